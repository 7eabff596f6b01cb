"""The configs of ``configs/fcos_rpn/``: FCOS as a region proposal network.

Every config loads (the R50 ones inherit mmdet's configs through the
``mmdet::`` prefix, offline), builds the RPN it names (ours for FCOS,
mmdet's anchor RPN for the baselines) and computes finite losses for both
stages on a tiny input with pretrained initialisation off. The demo-sized
pairs differ only in the RPN.
"""
import glob
import math
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fcos_mm.models.dense_heads import FCOSHead
from fcos_mm.registry import DATASETS, METRICS, MODELS, TRANSFORMS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'fcos_rpn')
CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(ROOT, '*.py')))
DEMO = '1xb8-300i_synthetic.py'
FCOS = {
    'faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py',
    'fcos-rpn_r50_fpn_1x_coco.py',
    'faster-rcnn_r18-w16_fpn-64_fcos-rpn_' + DEMO,
    'fcos-rpn_r18-w16_fpn-64_' + DEMO,
}
# each FCOS config and its anchor-RPN baseline
PAIRS = {
    'faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py':
    'faster-rcnn_r50_fpn_1x_coco.py',
    'fcos-rpn_r50_fpn_1x_coco.py': 'rpn_r50_fpn_1x_coco.py',
    'faster-rcnn_r18-w16_fpn-64_fcos-rpn_' + DEMO:
    'faster-rcnn_r18-w16_fpn-64_' + DEMO,
    'fcos-rpn_r18-w16_fpn-64_' + DEMO: 'rpn_r18-w16_fpn-64_' + DEMO,
}


# one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def load(name):
    return Config.fromfile(osp.join(ROOT, name))


def load_mmdet(name):
    """One of the configs shipped in mmdet's package (``mmdet::name``)."""
    return Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', name))


def _flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def _unscoped(cfg):
    """``cfg`` without the ``_scope_='mmdet'`` keys that mmengine adds to
    what a config inherits through ``mmdet::``."""
    if isinstance(cfg, dict):
        return {k: _unscoped(v) for k, v in cfg.items() if k != '_scope_'}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_unscoped(v) for v in cfg)
    return cfg


def test_all_configs_found():
    assert set(CONFIGS) == set(PAIRS) | set(PAIRS.values())


def build_model(cfg):
    model_cfg = cfg.model
    model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(model_cfg)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_computes_losses(name):
    cfg = load(name)
    two_stage = name.startswith('faster-rcnn')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            dataset = cfg[loader].dataset
            assert DATASETS.get(dataset.type) is not None
            for t in dataset.pipeline:
                assert TRANSFORMS.get(t.type) is not None, t.type
        evaluators = cfg.test_evaluator
        for metric in (evaluators if isinstance(evaluators, list) else
                       [evaluators]):
            assert METRICS.get(metric.type) is not None
        model = build_model(cfg)
    rpn = model.rpn_head if two_stage else model.bbox_head
    assert (type(rpn) is FCOSHead) == (name in FCOS)
    assert rpn.num_classes == 1
    if two_stage:
        num_classes = model.roi_head.bbox_head.num_classes
        assert num_classes == (80 if 'coco' in name else 3)
    torch.manual_seed(0)
    packed = demo_mm_inputs(
        batch_size=1,
        image_shapes=[(3, 64, 64)],
        num_items=[2],
        num_classes=3)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model(**data, mode='loss')
    # mmdet's RPNHead names its losses loss_rpn_*; TwoStageDetector
    # prefixes the others with rpn_
    expected = ({'loss_cls', 'loss_bbox', 'loss_centerness'}
                if name in FCOS else {'loss_rpn_cls', 'loss_rpn_bbox'})
    if two_stage:
        expected = {k if 'rpn' in k else f'rpn_{k}'
                    for k in expected} | {'loss_cls', 'loss_bbox', 'acc'}
    assert set(losses) == expected
    for key, value in losses.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            assert math.isfinite(float(v)), (key, v)


def test_r50_configs_follow_mmdet():
    fcos = load('faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py')
    mmdet = load_mmdet('faster_rcnn/faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py')
    assert fcos.default_scope == 'fcos_mm'
    assert fcos.model._scope_ == 'fcos_mm'
    # the same model but for the scope and the assigner in train_cfg.rpn
    ours, theirs = _flatten(fcos.model.to_dict()), _flatten(
        mmdet.model.to_dict())
    diff = {k for k in ours.keys() | theirs.keys()
            if ours.get(k) != theirs.get(k)}
    assert diff == {'_scope_'} | {
        k for k in ours.keys() | theirs.keys()
        if k.startswith('train_cfg.rpn.')
    }
    assert fcos.model.train_cfg.rpn.assigner.type == 'FCOSPointAssigner'
    assert _unscoped(fcos.param_scheduler) == mmdet.param_scheduler
    assert fcos.param_scheduler[0].end == 1000  # mmdet's NaN warm-up
    # the baselines are mmdet's configs, untouched but for the evaluator
    for name, mmdet_name in (
        ('faster-rcnn_r50_fpn_1x_coco.py',
         'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
        ('rpn_r50_fpn_1x_coco.py', 'rpn/rpn_r50_fpn_1x_coco.py'),
    ):
        ours = _unscoped(load(name).to_dict())
        theirs = load_mmdet(mmdet_name).to_dict()
        for key in ('val_evaluator', 'test_evaluator'):
            ours.pop(key)
            theirs.pop(key)
        assert ours == theirs


def test_proposal_configs_evaluate_recall():
    for name in ('fcos-rpn_r50_fpn_1x_coco.py', 'rpn_r50_fpn_1x_coco.py'):
        cfg = load(name)
        assert [m.metric for m in cfg.test_evaluator] == [
            'proposal_fast', 'proposal'
        ]
        # no key clash: the two metrics log under different prefixes
        assert cfg.test_evaluator[1].prefix == 'proposal'
        assert cfg.model.test_cfg.rpn.max_per_img == 1000
    cfg = load('fcos-rpn_r50_fpn_1x_coco.py')
    rpn = cfg.model.rpn_head
    assert rpn.type == 'FCOSHead' and rpn.strides == [8, 16, 32, 64, 128]
    assert cfg.model.neck.start_level == 1


@pytest.mark.parametrize('fcos_name', sorted(n for n in PAIRS if DEMO in n))
def test_demo_pairs_differ_only_in_the_rpn(fcos_name):
    ours = _flatten(load(fcos_name).to_dict())
    base = _flatten(load(PAIRS[fcos_name]).to_dict())
    diff = {k for k in ours.keys() | base.keys()
            if ours.get(k) != base.get(k)}
    rpn_keys = ('model.rpn_head.', 'model.train_cfg.rpn.', 'model.neck.',
                'model._scope_', 'model.roi_head.bbox_roi_extractor.'
                'featmap_strides')
    assert diff and all(k.startswith(rpn_keys) for k in diff), sorted(
        k for k in diff if not k.startswith(rpn_keys))
    # and the schedule, data and optimiser are the demo's
    cfg = load(fcos_name)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 300
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.train_dataloader.dataset.data_root == 'data/synthetic/'
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.param_scheduler == load(PAIRS[fcos_name]).param_scheduler
