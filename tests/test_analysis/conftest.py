"""Shared by the analysis tests: a small FCOS with the R50-FPN layout."""
import pytest

BASE = 8  # ResNet-50 layout at 1/8 width: C2..C5 have 32..256 channels
WIDTH = 32  # FPN and head channels (GroupNorm(32) needs >= 32)
NUM_CLASSES = 3


def _model_cfg(scope='', extra_convs='on_output', centerness_on_reg=False,
               conv_bias=True):
    return dict(
        type=scope + 'FCOS',
        data_preprocessor=dict(
            type=scope + 'DetDataPreprocessor',
            mean=[102.9801, 115.9465, 122.7717],
            std=[1.0, 1.0, 1.0],
            bgr_to_rgb=False,
            pad_size_divisor=32),
        backbone=dict(
            type=scope + 'ResNet',
            depth=50,
            stem_channels=BASE,
            base_channels=BASE,
            out_indices=(0, 1, 2, 3),
            frozen_stages=1,
            norm_cfg=dict(type='BN', requires_grad=False),
            norm_eval=True,
            style='caffe',
            init_cfg=None),
        neck=dict(
            type=scope + 'FPN',
            in_channels=[4 * BASE, 8 * BASE, 16 * BASE, 32 * BASE],
            out_channels=WIDTH,
            start_level=1,
            add_extra_convs=extra_convs,
            num_outs=5,
            relu_before_extra_convs=True),
        bbox_head=dict(
            type=scope + 'FCOSHead',
            num_classes=NUM_CLASSES,
            in_channels=WIDTH,
            feat_channels=WIDTH,
            stacked_convs=2,
            strides=[8, 16, 32, 64, 128],
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
            conv_bias=conv_bias,
            centerness_on_reg=centerness_on_reg,
            norm_on_bbox=False),
        test_cfg=dict(
            nms_pre=100,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=20))


@pytest.fixture(scope='session')
def model_cfg():
    """``_model_cfg`` itself: ``model_cfg(scope='mmdet.')`` gives mmdet's
    FCOS with the same settings."""
    return _model_cfg
