# FCOS R50-FPN 1x, the paper's main setting: caffe-style ResNet-50 from the
# detectron ImageNet weights, GN in the head, 16 images per iteration
# (8 GPUs x 2 images), lr 0.01, 12 epochs, under mmdet 3.3's name. Every
# caffe-backbone config in configs/fcos/ descends from this file;
# configs/fcos_r50_fpn_1x_coco.py and
# ./fcos_r50-caffe_fpn_gn-head_8xb2-1x_coco.py are aliases of it
# (configs/README.md says why).
_base_ = [
    '../_base_/models/fcos_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]

# 8 GPUs x 2 images per GPU = 16, the batch the lr above is set for.
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
