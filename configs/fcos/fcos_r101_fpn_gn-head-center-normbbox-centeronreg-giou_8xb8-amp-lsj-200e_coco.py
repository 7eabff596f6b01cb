# The LSJ 200e recipe with a ResNet-101 (torchvision weights).
_base_ = ('./fcos_r50_fpn_gn-head-center-normbbox-centeronreg-giou_'
          '8xb8-amp-lsj-200e_coco.py')

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
