# The full improvement set of the FCOS repository ('FCOS_imprv'): center
# sampling, stride-normalised targets, center-ness on the regression tower,
# GIoU loss, conv bias kept beside GN, NMS at 0.6, and the detectron2
# caffe weights. As mmdet does for these, linear warm-up, no grad clipping.
_base_ = './fcos_r50-caffe_fpn_gn-head_1x_coco.py'

model = dict(
    data_preprocessor=dict(mean=[103.530, 116.280, 123.675]),
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')),
    bbox_head=dict(
        norm_on_bbox=True,
        centerness_on_reg=True,
        conv_bias=True,
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(center_sampling=True)),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0 / 3.0,
        by_epoch=False,
        begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]

optim_wrapper = dict(clip_grad=None)
