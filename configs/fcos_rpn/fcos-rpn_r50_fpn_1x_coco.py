# FCOS as a stand-alone region proposal network, R50-FPN 1x on COCO: mmdet
# 3.3's `rpn_r50_fpn_1x_coco.py` with the FCOS head of its "single-stage
# detector as RPN" guide in the `rpn_head` slot, fcos_mm's FCOSHead here.
# It is evaluated on proposals only: average recall at 100 / 300 / 1000
# proposals per image (`proposal_fast`, as mmdet's RPN configs) and COCO's
# own AR with the small / medium / large split (`proposal`).
#
# What differs from the guide, and why: see
# ./faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py (scope, num_classes, the point
# assigner in train_cfg.rpn); the 1000-iteration warm-up is that config's.
# The anchor baseline is ./rpn_r50_fpn_1x_coco.py.
_base_ = 'mmdet::rpn/rpn_r50_fpn_1x_coco.py'

default_scope = 'fcos_mm'

model = dict(
    _scope_='fcos_mm',
    # P3-P7 as FCOS: start at C3, P6 / P7 from P5 (copied from
    # configs/fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py by mmdet's guide)
    neck=dict(
        start_level=1,
        add_extra_convs='on_output',
        relu_before_extra_convs=True),
    rpn_head=dict(
        _delete_=True,
        type='FCOSHead',
        num_classes=1,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(
        rpn=dict(
            _delete_=True,
            assigner=dict(
                type='FCOSPointAssigner',
                regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512),
                                (512, 1e8)),
                center_sampling=False,
                center_sample_radius=1.5))))

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]

# proposal_fast: mmdet's recall of the top 100 / 300 / 1000 proposals,
# averaged over IoU 0.5:0.95 ('coco/AR@100' ...); proposal: COCOeval with
# useCats=0, adding AR by object size ('proposal/AR_s@1000' ...). Both are
# fcos_mm's CocoMetric: mmdet's, with a proposal_fast that runs on numpy
# >= 1.24 (fcos_mm/evaluation/metrics/coco_metric.py).
val_evaluator = [
    dict(
        type='CocoMetric',
        _scope_='fcos_mm',  # mmdet's proposal_fast fails on numpy>=1.24
        ann_file='data/coco/annotations/instances_val2017.json',
        metric='proposal_fast',
        backend_args=None),
    dict(
        type='CocoMetric',
        _scope_='fcos_mm',  # mmdet's proposal_fast fails on numpy>=1.24
        ann_file='data/coco/annotations/instances_val2017.json',
        metric='proposal',
        prefix='proposal',
        backend_args=None)
]
test_evaluator = val_evaluator
