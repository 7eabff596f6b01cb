# The baseline of ./fcos-rpn_r50_fpn_1x_coco.py: mmdet 3.3's anchor-based
# RPN R50-FPN 1x (built in mmdet's scope), evaluated with the same two
# proposal metrics so that the figures line up key for key.
_base_ = 'mmdet::rpn/rpn_r50_fpn_1x_coco.py'

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
