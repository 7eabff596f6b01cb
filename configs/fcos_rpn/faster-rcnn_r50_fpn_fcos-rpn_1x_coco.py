# Faster R-CNN R50-FPN 1x on COCO with FCOS as its region proposal network
# (the paper's section 4): mmdet 3.3's config of the same name, with
# fcos_mm's FCOSHead in the `rpn_head` slot.
#
# What differs from mmdet's config, and why:
# * the model is built in the fcos_mm scope (`_scope_`), so 'FCOSHead' is
#   ours; everything else (FasterRCNN, RoI head, ResNet, FPN) falls through
#   to mmdet's classes;
# * `train_cfg.rpn` holds FCOS's point assigner instead of the anchor
#   MaxIoUAssigner + RandomSampler that mmdet's FCOSHead ignores and ours
#   refuses (our head builds `train_cfg.assigner`).
# The rest, the 1000-iteration linear warm-up included ("otherwise loss
# becomes NAN"), is mmdet's. Compare with ./faster-rcnn_r50_fpn_1x_coco.py
# (the anchor RPN, mmdet's baseline) by running both with tools/train.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py'

default_scope = 'fcos_mm'

model = dict(
    _scope_='fcos_mm',
    train_cfg=dict(
        rpn=dict(
            _delete_=True,
            # FCOS's defaults, i.e. what mmdet's FCOSHead uses in this slot
            assigner=dict(
                type='FCOSPointAssigner',
                regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512),
                                (512, 1e8)),
                center_sampling=False,
                center_sample_radius=1.5))))
