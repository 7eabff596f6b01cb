"""Shared by the whole suite: the R50-FPN FCOS model config, to shrink,
and a tiny COCO-layout data set on disk.

The tests' small detectors are ``configs/fcos_r50_fpn_1x_coco.py``'s model
with narrower or shallower parts, so they follow the real config wherever
a test does not say otherwise.
"""
import copy
import functools
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
R50_CONFIG = osp.join(REPO, 'configs', 'fcos_r50_fpn_1x_coco.py')

_spec = importlib.util.spec_from_file_location(
    'coco_tiny', osp.join(REPO, 'tests', 'test_datasets', 'coco_tiny.py'))
coco_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coco_tiny)


@functools.lru_cache(maxsize=None)
def _r50_model() -> dict:
    return Config.fromfile(R50_CONFIG).model.to_dict()


def r50_model_cfg(scope='', **parts):
    """The R50 config's ``model`` dict with each part updated.

    Args:
        scope (str): Prefix of the detector's, preprocessor's, backbone's,
            neck's and head's types, e.g. ``'mmdet.'`` for mmdet's FCOS.
        **parts (dict): Keys to set in the part of that name, e.g.
            ``backbone=dict(depth=18)``.

    Returns:
        dict: A fresh copy.
    """
    model = copy.deepcopy(_r50_model())
    for name, update in parts.items():
        model[name].update(update)
    model['type'] = scope + model['type']
    for name in ('data_preprocessor', 'backbone', 'neck', 'bbox_head'):
        model[name]['type'] = scope + model[name]['type']
    return model


@pytest.fixture(scope='module')
def one_torch_thread():
    """One intra-op thread for a module's tests: the machine is shared, and
    several threads per op mostly wait on each other here (an R50 forward
    takes 10x longer with 2 than with 1). Use it with
    ``pytestmark = pytest.mark.usefixtures('one_torch_thread')``."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def r50_model():
    """:func:`r50_model_cfg` itself, for the conftests' small models."""
    return r50_model_cfg


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


@pytest.fixture
def coco_tiny_root(tmp_path):
    """A COCO-layout data root with 2 train and 2 val images."""
    return coco_tiny.make_coco_tiny(str(tmp_path / 'coco'))


@pytest.fixture
def coco_helper():
    """The fixture-writing module (``write_json``, ``make_split``, ...)."""
    return coco_tiny
