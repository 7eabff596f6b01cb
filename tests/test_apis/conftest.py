"""Shared by the API tests: a small FCOS config with random weights."""
import functools

import pytest
from mmengine.config import Config

CLASSES = ('square', 'disc', 'triangle')


def tiny_config(r50_model, score_thr=0.0):
    """A config of the R50 config's model (``r50_model``, the fixture)
    shrunk, whose test pipeline resizes every image to fit 64x64."""
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]
    model = r50_model(
        data_preprocessor=dict(
            mean=[100.0, 110.0, 120.0], std=[50.0, 50.0, 50.0]),
        backbone=dict(
            depth=18,
            base_channels=8,
            out_indices=(1, 2, 3),
            frozen_stages=-1,
            style='pytorch',
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet18')),
        neck=dict(in_channels=[16, 32, 64], out_channels=16, start_level=0),
        bbox_head=dict(
            num_classes=len(CLASSES),
            in_channels=16,
            feat_channels=16,
            stacked_convs=1,
            norm_cfg=dict(type='GN', num_groups=4)),
        test_cfg=dict(nms_pre=50, score_thr=score_thr, max_per_img=10))
    return Config(
        dict(
            default_scope='fcos_mm',
            model=model,
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
def make_config(r50_model):
    """``tiny_config``, for tests that need variants."""
    return functools.partial(tiny_config, r50_model)


@pytest.fixture(scope='session')
def tiny_model(make_config):
    """The tiny config's detector, seeded random weights, on the CPU."""
    import torch

    from fcos_mm.apis import init_detector
    torch.manual_seed(0)
    return init_detector(make_config(), device='cpu')
