"""Shared by the analysis tests: a small FCOS with the R50-FPN layout."""
import pytest

BASE = 8  # ResNet-50 layout at 1/8 width: C2..C5 have 32..256 channels
WIDTH = 32  # FPN and head channels (GroupNorm(32) needs >= 32)
NUM_CLASSES = 3


@pytest.fixture(scope='session')
def model_cfg(r50_model):
    """The R50 config's model at 1/8 width with a 2-conv head:
    ``model_cfg(scope='mmdet.')`` gives mmdet's FCOS with the same
    settings."""

    def shrunk(scope='', extra_convs='on_output', centerness_on_reg=False,
               conv_bias=True):
        return r50_model(
            scope,
            backbone=dict(
                stem_channels=BASE, base_channels=BASE, init_cfg=None),
            neck=dict(
                in_channels=[4 * BASE, 8 * BASE, 16 * BASE, 32 * BASE],
                out_channels=WIDTH,
                add_extra_convs=extra_convs),
            bbox_head=dict(
                num_classes=NUM_CLASSES,
                in_channels=WIDTH,
                feat_channels=WIDTH,
                stacked_convs=2,
                conv_bias=conv_bias,
                centerness_on_reg=centerness_on_reg),
            test_cfg=dict(nms_pre=100, max_per_img=20))

    return shrunk
