# + a modulated deformable conv (DCNv2) as the last conv of both head towers.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(bbox_head=dict(dcn_on_last_conv=True))
