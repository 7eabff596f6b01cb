# mmdet's strongest FCOS recipe: the four improvements (center sampling,
# stride-normalised targets, center-ness on the regression tower, GIoU),
# a pytorch-style ResNet-50 from the torchvision weights (RGB input, ImageNet
# mean / std, BN trained but in eval mode), large-scale jitter at 1024 x 1024
# for 200 epochs, mixed precision, 64 images per iteration (8 GPUs x 8).
_base_ = [
    '../_base_/models/fcos_r50_fpn.py',
    '../_base_/datasets/coco_detection_lsj.py',
    '../_base_/schedules/schedule_lsj_200e.py', '../_base_/default_runtime.py'
]

image_size = {{_base_.image_size}}

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size)]),
    backbone=dict(
        norm_cfg=dict(type='BN', requires_grad=True),
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    bbox_head=dict(
        norm_on_bbox=True,
        centerness_on_reg=True,
        conv_bias=True,
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(center_sampling=True, center_sample_radius=1.5)),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))

train_dataloader = dict(batch_size=8, num_workers=4)

# lr 0.04 for 64 images (mmdet's value for this recipe); AMP: float16 with a
# dynamic loss scale.
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(lr=0.01 * 4))

# 25 long epochs: keep only the last 2 checkpoints
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
