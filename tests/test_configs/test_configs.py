"""Every config under configs/ loads, builds its model and computes losses.

Pretrained initialisation is switched off (nothing is downloaded) and each
model runs one 64 x 64 image with two boxes in loss mode.
"""
import ast
import glob
import math
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fcos_mm.registry import DATASETS, MODELS, TRANSFORMS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
R50_1X = 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
# Earlier names (ours, or short) kept as one-line children of mmdet 3.3's
# name of the same config (configs/README.md says why).
ALIASES = {
    'fcos_r50_fpn_1x_coco.py': R50_1X,
    'fcos/fcos_r50-caffe_fpn_gn-head_8xb2-1x_coco.py': R50_1X,
    'fcos/fcos_r50-caffe_fpn_gn-head-center_8xb2-1x_coco.py':
    'fcos/fcos_r50-caffe_fpn_gn-head-center_1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_'
    '8xb2-1x_coco.py':
    'fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_'
    '1x_coco.py',
    'fcos/fcos_r50-dcn-caffe_fpn_gn-head-center-normbbox-centeronreg-giou-'
    'dcn_8xb2-1x_coco.py':
    'fcos/fcos_r50-dcn-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_'
    '1x_coco.py',
    'fcos/fcos_r101-caffe_fpn_gn-head_8xb2-1x_coco.py':
    'fcos/fcos_r101-caffe_fpn_gn-head-1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head-ms-640-800_8xb2-2x_coco.py':
    'fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py',
    'fcos/fcos_r101-caffe_fpn_gn-head-ms-640-800_8xb2-2x_coco.py':
    'fcos/fcos_r101-caffe_fpn_gn-head_ms-640-800-2x_coco.py',
    'fcos/fcos_x101-64x4d_fpn_gn-head-ms-640-800_8xb2-2x_coco.py':
    'fcos/fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco.py',
}
# Built and run below; an alias is checked to equal what it names instead.
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, '**', '*.py'), recursive=True)
    # fcos_rpn/ holds two-stage and RPN models: test_fcos_rpn_configs.py
    if '_base_' not in p and 'fcos_rpn' not in p
    and osp.relpath(p, ROOT) not in ALIASES)


# one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def _model_diff(name):
    """model.* keys whose value differs between ``name`` and the R50 1x."""
    child = _flatten(Config.fromfile(osp.join(ROOT, name)).model.to_dict())
    base = _flatten(Config.fromfile(osp.join(ROOT, R50_1X)).model.to_dict())
    return {k for k in child.keys() | base.keys()
            if child.get(k) != base.get(k)}


def test_configs_found():
    assert R50_1X in CONFIGS
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize('alias', sorted(ALIASES))
def test_alias_is_the_config_it_names(alias):
    path = osp.join(ROOT, alias)
    real = osp.join(ROOT, ALIASES[alias])
    # nothing but `_base_ = 'the real file'`: no setting that could drift
    with open(path) as f:
        (statement, ) = ast.parse(f.read()).body
    assert [target.id for target in statement.targets] == ['_base_']
    assert osp.normpath(osp.join(osp.dirname(path), statement.value.value)
                        ) == osp.normpath(real)
    assert Config.fromfile(path).to_dict() == Config.fromfile(
        real).to_dict()


def test_r50_1x_is_the_paper_setting():
    cfg = Config.fromfile(osp.join(ROOT, R50_1X))
    assert cfg.default_scope == 'fcos_mm'
    assert cfg.model.backbone.style == 'caffe'
    assert cfg.model.backbone.init_cfg.checkpoint == (
        'open-mmlab://detectron/resnet50_caffe')
    assert cfg.model.data_preprocessor.bgr_to_rgb is False
    assert cfg.model.bbox_head.norm_cfg.type == 'GN'
    # 16 images per iteration at lr 0.01, steps after epochs 8 and 11.
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.clip_grad.max_norm == 35
    assert cfg.param_scheduler[0].type == 'ConstantLR'
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.model.test_cfg.nms.iou_threshold == 0.5
    assigner = cfg.model.train_cfg.assigner
    assert assigner.type == 'FCOSPointAssigner'
    assert assigner.center_sampling is False
    assert [list(r) for r in assigner.regress_ranges] == [
        [-1, 64], [64, 128], [128, 256], [256, 512], [512, 1e8]]


# Each ablation child changes only what its name says.
ONE_CHANGE = {
    'fcos/fcos_r50-caffe_fpn_gn-head-center_1x_coco.py':
    {'train_cfg.assigner.center_sampling'},
    'fcos/fcos_r50-caffe_fpn_gn-head-giou_8xb2-1x_coco.py':
    {'bbox_head.loss_bbox.type'},
    'fcos/fcos_r50-caffe_fpn_gn-head-normbbox_8xb2-1x_coco.py':
    {'bbox_head.norm_on_bbox'},
    'fcos/fcos_r50-caffe_fpn_gn-head-centeronreg_8xb2-1x_coco.py':
    {'bbox_head.centerness_on_reg'},
    'fcos/fcos_r50-caffe_fpn_gn-head-nocenterness_8xb2-1x_coco.py':
    {'bbox_head.use_centerness'},
    'fcos/fcos_r50-caffe_fpn_gn-head-dcn_8xb2-1x_coco.py':
    {'bbox_head.dcn_on_last_conv'},
    'fcos/fcos_r101-caffe_fpn_gn-head-1x_coco.py':
    {'backbone.depth', 'backbone.init_cfg.checkpoint'},
    'fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py': set(),
    'fcos/fcos_r50-caffe_fpn_gn-head_4xb4-1x_coco.py': set(),
}


@pytest.mark.parametrize('name', sorted(ONE_CHANGE))
def test_ablation_changes_one_thing(name):
    assert _model_diff(name) == ONE_CHANGE[name]


def test_multiscale_2x_changes_only_pipeline_and_schedule():
    cfg = Config.fromfile(
        osp.join(ROOT, 'fcos',
                 'fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py'))
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert resize.type == 'RandomChoiceResize'
    assert [list(s) for s in resize.scales] == [[1333, 640], [1333, 800]]
    assert cfg.train_cfg.max_epochs == 24
    assert cfg.param_scheduler[1].milestones == [16, 22]


def test_custom_template_sets_classes_everywhere():
    cfg = Config.fromfile(
        osp.join(ROOT, 'fcos/fcos_r50-caffe_fpn_gn-head_8xb2-1x_custom.py'))
    classes = tuple(cfg.train_dataloader.dataset.metainfo.classes)
    assert cfg.model.bbox_head.num_classes == len(classes)
    assert tuple(cfg.val_dataloader.dataset.metainfo.classes) == classes
    assert cfg.val_evaluator.ann_file == (
        cfg.val_dataloader.dataset.data_root +
        cfg.val_dataloader.dataset.ann_file)


def test_raccoon_config_reads_the_converted_voc_set():
    # docs/custom_dataset.md: the json files pascal_voc.py writes, one class
    # everywhere, skipping unreadable training images with the hook that
    # reports them.
    cfg = Config.fromfile(
        osp.join(
            ROOT, 'raccoon', 'fcos_r18-w16_fpn-64_gn-head-center-normbbox-'
            'centeronreg-giou_1xb8-600i_raccoon.py'))
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert tuple(train.metainfo.classes) == ('raccoon', )
    assert tuple(val.metainfo.classes) == ('raccoon', )
    assert cfg.model.bbox_head.num_classes == 1
    assert (train.ann_file, val.ann_file) == ('annotations/train.json',
                                              'annotations/val.json')
    assert cfg.val_evaluator.ann_file == val.data_root + val.ann_file
    assert train.pipeline[0].on_bad_image == 'skip'
    assert val.pipeline[0].get('on_bad_image', 'raise') == 'raise'
    assert {'ProgressBarHook', 'CheckImagesHook', 'SkippedImagesHook'} <= {
        h.type for h in cfg.custom_hooks}
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[1].end == 600


def _no_pretrained(model_cfg):
    model_cfg.backbone.init_cfg = None
    model_cfg.pop('init_cfg', None)
    return model_cfg


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_computes_losses(name):
    cfg = Config.fromfile(osp.join(ROOT, name))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            if cfg.get(loader) is not None:
                dataset = cfg[loader].dataset
                if dataset.type == 'RepeatDataset':  # the LSJ configs
                    assert DATASETS.get(dataset.type) is not None
                    dataset = dataset.dataset
                assert DATASETS.get(dataset.type) is not None
                for t in dataset.get('pipeline', []):
                    assert TRANSFORMS.get(t.type) is not None, t.type
        for augment in cfg.model.data_preprocessor.get('batch_augments',
                                                       None) or []:
            # the LSJ configs pad to 1024 x 1024: ~10 s per model here
            augment.size = (64, 64)
        model = MODELS.build(_no_pretrained(cfg.model))
        num_classes = model.bbox_head.num_classes
        torch.manual_seed(0)
        packed = demo_mm_inputs(
            batch_size=1,
            image_shapes=[(3, 64, 64)],
            num_items=[2],
            num_classes=max(num_classes, 2))
        if num_classes == 1:  # mmdet's helper draws labels from 1..C-1
            for sample in packed['data_samples']:
                sample.gt_instances.labels[:] = 0
        data = model.data_preprocessor(packed, True)
        model.train()
        losses = model(**data, mode='loss')
    expected = {'loss_cls', 'loss_bbox'}
    if cfg.model.bbox_head.get('use_centerness', True):
        expected.add('loss_centerness')
    assert set(losses) == expected
    for key, value in losses.items():
        assert math.isfinite(float(value)), (key, value)
    assert float(losses['loss_cls']) > 0


def test_metafile_names_existing_configs():
    import yaml
    with open(osp.join(ROOT, 'fcos', 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    assert len(meta['Models']) == 12
    for model in meta['Models']:
        assert osp.isfile(osp.join(ROOT, '..', model['Config']))
        assert model['Name'] + '.py' == osp.basename(model['Config'])
