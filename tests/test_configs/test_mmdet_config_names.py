"""Every FCOS config mmdet 3.3 ships exists in configs/fcos/ under the same
file name and builds the same detector as mmdet's file does, read from the
mmdet package (``mmdet/.mim/configs/fcos``) and built with mmdet's registry.

"The same" here: parameter names, shapes and which are trained; the
assigner's options (head kwargs in mmdet, ``train_cfg.assigner`` here); the
head, data preprocessor and test settings; and the training recipe around
the model (pipeline, batch, optimizer, lr schedule, epochs). Models are
built, never run, so nothing is downloaded and the file stays quick.
"""
import glob
import os.path as osp

import mmdet
import pytest
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fcos_mm.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
MMDET_ROOT = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
MMDET_NAMES = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(MMDET_ROOT, 'fcos', 'fcos_*.py')))
HEAD_OPTIONS = ('num_classes', 'in_channels', 'feat_channels',
                'stacked_convs', 'strides', 'norm_on_bbox',
                'centerness_on_reg', 'dcn_on_last_conv', 'conv_bias',
                'norm_cfg', 'regress_ranges', 'center_sampling',
                'center_sample_radius', 'test_cfg')


# one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_mmdet_ships_the_fcos_configs_we_name():
    # mmdet 3.3's list, so a new or renamed one is noticed here
    assert len(MMDET_NAMES) == 12
    assert 'fcos_r50-caffe_fpn_gn-head_1x_coco.py' in MMDET_NAMES
    assert ('fcos_r18_fpn_gn-head-center-normbbox-centeronreg-giou_'
            '8xb8-amp-lsj-200e_coco.py') in MMDET_NAMES


def _configs(name):
    return (Config.fromfile(osp.join(ROOT, 'fcos', name)),
            Config.fromfile(osp.join(MMDET_ROOT, 'fcos', name)))


def _build(cfg, registry, scope):
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg.model)


def _loss_settings(loss):
    return type(loss).__name__, {
        key: getattr(loss, key)
        for key in ('loss_weight', 'gamma', 'alpha', 'use_sigmoid')
        if hasattr(loss, key)
    }


@pytest.mark.parametrize('name', MMDET_NAMES)
def test_model_equals_mmdets_config_of_the_same_name(name):
    ours_cfg, mm_cfg = _configs(name)
    assert ours_cfg.default_scope == 'fcos_mm'
    ours = _build(ours_cfg, MODELS, 'fcos_mm')
    mm_model = _build(mm_cfg, MMDET_MODELS, 'mmdet')
    assert type(ours.bbox_head).__module__.startswith('fcos_mm.')
    assert type(mm_model.bbox_head).__module__.startswith('mmdet.')

    def params(model):
        return {key: (tuple(p.shape), p.requires_grad)
                for key, p in model.named_parameters()}

    assert params(ours) == params(mm_model)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in mm_model.state_dict().items()}
    head, mm_head = ours.bbox_head, mm_model.bbox_head
    for key in HEAD_OPTIONS:
        value, mm_value = getattr(head, key), getattr(mm_head, key)
        if key == 'regress_ranges':
            mm_value = [tuple(r) for r in mm_value]
        elif key == 'strides':
            mm_value = tuple(mm_value)
        assert value == mm_value, key
    # the assigner really holds what the head reports
    assert head.assigner.center_sampling == mm_head.center_sampling
    assert head.assigner.center_sample_radius == (
        mm_head.center_sample_radius)
    for loss in ('loss_cls', 'loss_bbox', 'loss_centerness'):
        assert _loss_settings(getattr(head, loss)) == _loss_settings(
            getattr(mm_head, loss)), loss
    # backbone style, frozen stages and BN mode, pretrained weights
    for key in ('depth', 'style', 'frozen_stages', 'norm_eval', 'norm_cfg',
                'init_cfg', 'dcn', 'stage_with_dcn', 'groups', 'base_width',
                'type'):
        assert ours_cfg.model.backbone.get(key) == (
            mm_cfg.model.backbone.get(key)), key
    assert ours_cfg.model.neck == mm_cfg.model.neck
    preprocessor, mm_preprocessor = (ours_cfg.model.data_preprocessor,
                                     mm_cfg.model.data_preprocessor)
    for key in ('type', 'mean', 'std', 'bgr_to_rgb', 'pad_size_divisor',
                'batch_augments'):
        assert preprocessor.get(key) == mm_preprocessor.get(key), key


def _train_dataset(cfg):
    dataset = cfg.train_dataloader.dataset
    times = dataset.get('times') if dataset.type == 'RepeatDataset' else None
    return (dataset.dataset if times else dataset), times


@pytest.mark.parametrize('name', MMDET_NAMES)
def test_training_recipe_equals_mmdets_config_of_the_same_name(name):
    ours_cfg, mm_cfg = _configs(name)
    dataset, times = _train_dataset(ours_cfg)
    mm_dataset, mm_times = _train_dataset(mm_cfg)
    assert times == mm_times
    assert dataset.pipeline == mm_dataset.pipeline
    for key in ('type', 'data_root', 'ann_file', 'data_prefix',
                'filter_cfg'):
        assert dataset.get(key) == mm_dataset.get(key), key
    for key in ('batch_size', 'num_workers', 'sampler', 'batch_sampler'):
        assert ours_cfg.train_dataloader.get(key) == (
            mm_cfg.train_dataloader.get(key)), key
    for key in ('val_dataloader', 'test_dataloader'):
        assert ours_cfg[key].dataset.pipeline == mm_cfg[key].dataset.pipeline
    assert ours_cfg.optim_wrapper == mm_cfg.optim_wrapper
    assert ours_cfg.param_scheduler == mm_cfg.param_scheduler
    assert ours_cfg.train_cfg == mm_cfg.train_cfg
    assert ours_cfg.auto_scale_lr.base_batch_size == (
        mm_cfg.auto_scale_lr.base_batch_size)
    assert ours_cfg.default_hooks.checkpoint.get('max_keep_ckpts') == (
        mm_cfg.default_hooks.checkpoint.get('max_keep_ckpts'))


def test_metafile_lists_mmdets_names_with_mmdets_reported_box_ap():
    import yaml
    with open(osp.join(ROOT, 'fcos', 'metafile.yml')) as f:
        ours = {model['Name']: model for model in yaml.safe_load(f)['Models']}
    with open(osp.join(MMDET_ROOT, 'fcos', 'metafile.yml')) as f:
        reported = {
            model['Name']: model['Results'][0]['Metrics']['box AP']
            for model in yaml.safe_load(f)['Models']
        }
    assert sorted(name + '.py' for name in ours) == MMDET_NAMES
    for name, model in ours.items():
        assert model['Metadata']['Reference Config'] == (
            f'mmdetection configs/fcos/{name}.py')
        ap = [result['Metrics']['reference box AP (mmdet)']
              for result in model.get('Results', [])]
        # the reference number, marked as such, only where mmdet has one
        assert ap == ([reported[name]] if name in reported else []), name
    assert len(reported) == 7
