# Shared settings of the demo-sized children in configs/fcos_rpn/: the
# embedded synthetic shapes (tools/misc/gen_synthetic_coco.py writes them to
# data/synthetic/), the R18-w16 / 64-channel FPN model of configs/demo/ and
# its optimiser, over a shorter iteration-based schedule.
#
# The children inherit an R50 config of this folder *and* this file, so
# nothing here may share a name with those (mmengine refuses duplicate keys
# among bases): every setting is a `demo_*` variable that the children
# assign, e.g. `train_dataloader = _base_.demo_train_dataloader`. The
# `_delete_` keys make them replace, not patch, the COCO settings.
demo_classes = ('ellipse', 'rectangle', 'triangle')
demo_data_root = 'data/synthetic/'
demo_img_scale = (256, 256)
demo_max_iters = 300
demo_val_interval = 300
demo_metainfo = dict(
    classes=demo_classes,
    palette=[(220, 50, 40), (40, 170, 60), (50, 80, 220)])

demo_data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32)
# ResNet-18 with 16 base channels (16..128), from scratch
demo_backbone = dict(
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
    init_cfg=None)
demo_in_channels = [16, 32, 64, 128]
demo_channels = 64
# FCOS as in configs/demo/: regress ranges of 1.5 strides (the COCO ones
# scaled to 256 px images), center sampling, GIoU, norm_on_bbox,
# center-ness on the regression tower, a 2-conv 64-channel GN head
demo_fcos_rpn_head = dict(
    in_channels=demo_channels,
    feat_channels=demo_channels,
    stacked_convs=2,
    norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
    norm_on_bbox=True,
    centerness_on_reg=True,
    conv_bias=True,
    loss_bbox=dict(type='GIoULoss', loss_weight=1.0))
demo_fcos_assigner = dict(
    type='FCOSPointAssigner',
    regress_ranges=((-1, 12), (12, 24), (24, 48), (48, 96), (96, 1e8)),
    center_sampling=True,
    center_sample_radius=1.5)
# The anchor RPN scaled the same way: octave scale 4 instead of 8, i.e.
# square anchors of 16..256 px on P2-P6 (mmdet's 32..512 px fit 800 px
# images; at 256 px a 16 px box would reach IoU 0.25 with its best anchor,
# under min_pos_iou 0.3, and get no positive at all).
demo_anchor_rpn_head = dict(
    in_channels=demo_channels,
    feat_channels=demo_channels,
    anchor_generator=dict(scales=[4]))

# Faster R-CNN's sampling scaled to 256 px images with 3-8 objects: 1000
# proposals per level before NMS (not 2000) and 256 RoIs per image for the
# RoI head (not 512). On the CPU these two dominate a step of the anchor RPN
# (NMS over P2's 12k anchors) and of the RoI head (RoIAlign backward).
demo_two_stage_train_cfg = dict(
    rpn_proposal=dict(nms_pre=1000), rcnn=dict(sampler=dict(num=256)))

demo_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=demo_img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
demo_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=demo_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# Loading is a few ms per batch next to the model's compute: no workers.
demo_train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', _scope_='fcos_mm'),
    batch_sampler=dict(type='AspectRatioBatchSampler', _scope_='fcos_mm'),
    dataset=dict(
        type='CocoDataset',
        _scope_='fcos_mm',
        data_root=demo_data_root,
        metainfo=demo_metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=demo_train_pipeline))
demo_val_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, _scope_='fcos_mm'),
    dataset=dict(
        type='CocoDataset',
        _scope_='fcos_mm',
        data_root=demo_data_root,
        metainfo=demo_metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=demo_test_pipeline))
demo_val_ann = demo_data_root + 'annotations/instances_val.json'
demo_bbox_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    _scope_='fcos_mm',
    ann_file=demo_val_ann,
    metric='bbox',
    classwise=True)
# With 3-8 objects per image, recall at 10 proposals separates the RPNs
# better than at 100; proposal_fast prints AR@10 / 100 / 300 / 1000.
demo_proposal_evaluator = [
    dict(
        type='CocoMetric',
        _scope_='fcos_mm',
        ann_file=demo_val_ann,
        metric='proposal_fast',
        proposal_nums=(10, 100, 300, 1000)),
    dict(
        type='CocoMetric',
        _scope_='fcos_mm',
        ann_file=demo_val_ann,
        metric='proposal',
        prefix='proposal')
]

demo_train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=demo_max_iters,
    val_interval=demo_val_interval)
demo_param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.01,
        by_epoch=False,
        begin=100,
        end=demo_max_iters)
]
demo_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10, norm_type=2))
demo_default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=demo_max_iters, max_keep_ckpts=1))
demo_log_processor = dict(by_epoch=False, window_size=20)
demo_randomness = dict(seed=0)
