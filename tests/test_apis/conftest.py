"""Shared by the API tests: a small FCOS config with random weights."""
import pytest
from mmengine.config import Config

CLASSES = ('square', 'disc', 'triangle')


def tiny_config(score_thr=0.0):
    """A config whose test pipeline resizes every image to fit 64x64."""
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]
    return Config(
        dict(
            default_scope='fcos_mm',
            model=dict(
                type='FCOS',
                data_preprocessor=dict(
                    type='DetDataPreprocessor',
                    mean=[100.0, 110.0, 120.0],
                    std=[50.0, 50.0, 50.0],
                    bgr_to_rgb=False,
                    pad_size_divisor=32),
                backbone=dict(
                    type='ResNet',
                    depth=18,
                    base_channels=8,
                    out_indices=(1, 2, 3),
                    norm_cfg=dict(type='BN', requires_grad=False),
                    norm_eval=True,
                    style='pytorch',
                    init_cfg=dict(
                        type='Pretrained',
                        checkpoint='torchvision://resnet18')),
                neck=dict(
                    type='FPN',
                    in_channels=[16, 32, 64],
                    out_channels=16,
                    start_level=0,
                    add_extra_convs='on_output',
                    num_outs=5,
                    relu_before_extra_convs=True),
                bbox_head=dict(
                    type='FCOSHead',
                    num_classes=len(CLASSES),
                    in_channels=16,
                    feat_channels=16,
                    stacked_convs=1,
                    strides=[8, 16, 32, 64, 128],
                    norm_cfg=dict(type='GN', num_groups=4)),
                test_cfg=dict(
                    nms_pre=50,
                    min_bbox_size=0,
                    score_thr=score_thr,
                    nms=dict(type='nms', iou_threshold=0.5),
                    max_per_img=10)),
            test_dataloader=dict(
                dataset=dict(
                    type='CocoDataset',
                    data_root='nowhere/',
                    ann_file='missing.json',
                    metainfo=dict(
                        classes=CLASSES,
                        palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)]),
                    pipeline=pipeline))))


@pytest.fixture(scope='session')
def make_config():
    """``tiny_config`` itself, for tests that need variants."""
    return tiny_config


@pytest.fixture(scope='session')
def tiny_model():
    """The tiny config's detector, seeded random weights, on the CPU."""
    import torch

    from fcos_mm.apis import init_detector
    torch.manual_seed(0)
    return init_detector(tiny_config(), device='cpu')
