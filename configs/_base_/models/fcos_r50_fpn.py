# FCOS with a caffe-style ResNet-50, FPN P3-P7 and a GN head: the paper's
# R50-FPN setting (Tian et al., ICCV 2019), as mmdet configures it.
INF = 1e8

model = dict(
    type='FCOS',
    # The detectron caffe weights expect BGR input minus the BGR means, no
    # std scaling.
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[102.9801, 115.9465, 122.7717],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron/resnet50_caffe')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        # P6 and P7 come from P5 (the paper), not from C5.
        add_extra_convs='on_output',
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        conv_bias='auto',
        dcn_on_last_conv=False,
        centerness_on_reg=False,
        norm_on_bbox=False,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # Which points are positives, and for which box, is the assigner's job
    # (a TASK_UTILS class), so its knobs live here and not in the head.
    train_cfg=dict(
        assigner=dict(
            type='FCOSPointAssigner',
            regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512),
                            (512, INF)),
            center_sampling=False,
            center_sample_radius=1.5)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
