# The R50 1x with the same 16 images per iteration laid out as 4 GPUs x 4
# images (the FCOS authors' layout), so the lr and schedule are unchanged.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

train_dataloader = dict(batch_size=4, num_workers=4)
