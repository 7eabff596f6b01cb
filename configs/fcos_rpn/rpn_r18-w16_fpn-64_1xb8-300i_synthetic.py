# ./rpn_r50_fpn_1x_coco.py (mmdet's anchor RPN) at demo size: the baseline
# of ./fcos-rpn_r18-w16_fpn-64_1xb8-300i_synthetic.py with the same
# backbone, FPN width, data, optimiser and budget. Its FPN is mmdet's RPN
# one (P2-P6) and its anchors are scaled to the 256 px images (see
# ./_base_/synthetic_demo.py).
_base_ = ['./rpn_r50_fpn_1x_coco.py', './_base_/synthetic_demo.py']

default_scope = 'fcos_mm'
model = dict(
    data_preprocessor=_base_.demo_data_preprocessor,
    backbone=_base_.demo_backbone,
    neck=dict(
        in_channels=_base_.demo_in_channels,
        out_channels=_base_.demo_channels),
    rpn_head=_base_.demo_anchor_rpn_head)

train_dataloader = _base_.demo_train_dataloader
val_dataloader = _base_.demo_val_dataloader
test_dataloader = _base_.demo_val_dataloader
val_evaluator = _base_.demo_proposal_evaluator
test_evaluator = _base_.demo_proposal_evaluator
train_cfg = _base_.demo_train_cfg
param_scheduler = _base_.demo_param_scheduler
optim_wrapper = _base_.demo_optim_wrapper
auto_scale_lr = dict(enable=False)
default_hooks = _base_.demo_default_hooks
log_processor = _base_.demo_log_processor
randomness = _base_.demo_randomness
