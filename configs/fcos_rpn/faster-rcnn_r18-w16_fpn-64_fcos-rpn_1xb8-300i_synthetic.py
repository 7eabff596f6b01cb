# ./faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py at demo size: Faster R-CNN with
# FCOS proposals on the embedded synthetic shapes, trained from scratch on a
# CPU in minutes (R18-w16, a 64-channel FPN on P3-P7, the FCOS head of
# configs/demo/, a 2-fc RoI head of 256 channels; 300 iterations of 8
# images). Shared settings: ./_base_/synthetic_demo.py. The anchor RPN at the
# same size and budget: ./faster-rcnn_r18-w16_fpn-64_1xb8-300i_synthetic.py.
_base_ = [
    './faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py', './_base_/synthetic_demo.py'
]

default_scope = 'fcos_mm'
model = dict(
    data_preprocessor=_base_.demo_data_preprocessor,
    backbone=_base_.demo_backbone,
    neck=dict(
        in_channels=_base_.demo_in_channels,
        out_channels=_base_.demo_channels),
    rpn_head=_base_.demo_fcos_rpn_head,
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=_base_.demo_channels),
        bbox_head=dict(
            in_channels=_base_.demo_channels,
            fc_out_channels=256,
            num_classes=len(_base_.demo_classes))),
    train_cfg=dict(
        rpn=dict(assigner=_base_.demo_fcos_assigner),
        **_base_.demo_two_stage_train_cfg))

train_dataloader = _base_.demo_train_dataloader
val_dataloader = _base_.demo_val_dataloader
test_dataloader = _base_.demo_val_dataloader
val_evaluator = _base_.demo_bbox_evaluator
test_evaluator = _base_.demo_bbox_evaluator
train_cfg = _base_.demo_train_cfg
param_scheduler = _base_.demo_param_scheduler
optim_wrapper = _base_.demo_optim_wrapper
auto_scale_lr = dict(enable=False)
default_hooks = _base_.demo_default_hooks
log_processor = _base_.demo_log_processor
randomness = _base_.demo_randomness
