_base_ = [
    '../_base_/models/fcos_r50_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/default_runtime.py'
]
# The README's demo: FCOS trained from scratch on a 2-core CPU in minutes, on
# the synthetic shapes of fcos_mm/datasets/synthetic.py (run
# tools/misc/run_demo.py, which also generates the data).
#
# What makes it fit the budget:
# * data a small detector learns fast: three shapes in three colours on a
#   plain background, 256 px images, yet boxes of 16..240 px on all of P3-P7;
# * regress ranges of 1.5 strides per level (12, 24, 48, 96), the COCO ones
#   scaled to 256 px images, so P6 and P7 are not left empty;
# * a ResNet-18 with 16 base channels (16..128), a 64-channel FPN and a
#   64-channel GN head, all from scratch (BN in the backbone);
# * AdamW with warm-up and cosine decay, fp32 (bf16 autocast helps only on
#   CPUs with AMX / AVX512-BF16; on AVX2 CPUs it is ~10x slower);
# * the FCOS improvements: center sampling, GIoU, norm_on_bbox,
#   centerness_on_reg.
INF = 1e8
classes = ('ellipse', 'rectangle', 'triangle')
regress_ranges = ((-1, 12), (12, 24), (24, 48), (48, 96), (96, INF))
img_scale = (256, 256)
max_iters = 1000
val_interval = 250

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    bbox_head=dict(
        num_classes=len(classes),
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        norm_on_bbox=True,
        centerness_on_reg=True,
        conv_bias=True,
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(
            regress_ranges=regress_ranges,
            center_sampling=True,
            center_sample_radius=1.5)),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))

# data: tools/misc/gen_synthetic_coco.py (or run_demo.py) writes it here;
# everything not set below comes from _base_/datasets/coco_detection.py.
data_root = 'data/synthetic/'
metainfo = dict(
    classes=classes, palette=[(220, 50, 40), (40, 170, 60), (50, 80, 220)])

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

# Data loading is a few ms per batch next to ~0.5 s of compute, so worker
# processes would only take a core away from the model.
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler'),
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val.json', classwise=True)
test_evaluator = val_evaluator

# schedule: iteration-based, evaluated 4 times for the mAP curve
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.01,
        by_epoch=False,
        begin=100,
        end=max_iters)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10, norm_type=2))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1),
    # After 1000 iterations most true boxes score 0.2..0.5 (focal-loss
    # scores times centerness), so mmdet's 0.3 would hide a third of them.
    visualization=dict(score_thr=0.2))
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0)
