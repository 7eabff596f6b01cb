"""Parameters and FLOPs against mmdet's FCOS built with the same settings."""
import copy

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fcos_mm.benchmarks.get_flops import count_parameters, model_complexity
from fcos_mm.registry import MODELS


def _mmdet_scoped(cfg):
    """The same model config with every registered type in mmdet's scope."""
    cfg = copy.deepcopy(cfg)
    for key in ('backbone', 'neck', 'bbox_head', 'data_preprocessor'):
        cfg[key]['type'] = 'mmdet.' + cfg[key]['type']
    cfg['type'] = 'mmdet.' + cfg['type']
    cfg['backbone']['init_cfg'] = None
    cfg.pop('train_cfg', None)  # mmdet's head has no assigner to build
    return cfg


def _conv_macs(model, images):
    """Multiply-adds of every Conv2d, from its output size (by hand)."""
    total = []

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        total.append(output.numel() * k * module.in_channels //
                     module.groups)

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        model._forward(images)
    for h in handles:
        h.remove()
    return sum(total)


def test_r50_config_parameters_equal_mmdet():
    cfg = Config.fromfile('configs/fcos_r50_fpn_1x_coco.py').model
    cfg.backbone.init_cfg = None
    init_default_scope('fcos_mm')
    ours = MODELS.build(copy.deepcopy(cfg))
    theirs = MODELS.build(_mmdet_scoped(cfg.to_dict()))
    assert type(theirs.bbox_head).__module__.startswith('mmdet.')
    assert count_parameters(ours) == count_parameters(theirs)
    # FCOS R50-FPN is about 32 M parameters (mmdet's model zoo).
    assert 31e6 < count_parameters(ours) < 33e6


def test_flops_on_a_small_input(model_cfg):
    init_default_scope('fcos_mm')
    ours = MODELS.build(model_cfg()).eval()
    theirs = MODELS.build(model_cfg(scope='mmdet.')).eval()
    info = model_complexity(ours, (64, 160))
    assert info['flops'] == model_complexity(theirs, (64, 160))['flops']
    assert info['params'] == count_parameters(ours)
    assert info['table'] == ''
    # Convolutions dominate; norms, upsampling and the like add a little.
    conv = _conv_macs(ours, torch.zeros(1, 3, 64, 160))
    assert conv <= info['flops'] < 1.1 * conv
    assert ours.training is False
    table = model_complexity(ours, (64, 160), show_table=True)['table']
    assert 'backbone' in table
