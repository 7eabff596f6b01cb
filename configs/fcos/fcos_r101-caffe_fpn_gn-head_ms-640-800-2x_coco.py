# Caffe-style ResNet-101 backbone, multi-scale training, 2x schedule.
_base_ = './fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron/resnet101_caffe')))
