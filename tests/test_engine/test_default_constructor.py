"""Our DefaultOptimWrapperConstructor: frozen parameters said once."""
import logging

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from fcos_mm.engine import DefaultOptimWrapperConstructor
from fcos_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


def test_frozen_parameters_in_one_line(caplog):
    assert OPTIM_WRAPPER_CONSTRUCTORS.get(
        'DefaultOptimWrapperConstructor') is DefaultOptimWrapperConstructor
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                          nn.Conv2d(4, 2, 1))
    for param in list(model[0].parameters()) + list(model[1].parameters()):
        param.requires_grad = False
    logger = MMLogger.get_instance('test_default_constructor')
    MMLogger._instance_dict.move_to_end('test_default_constructor')
    caplog.handler.setLevel(logging.INFO)
    logger.addHandler(caplog.handler)
    try:
        with DefaultScope.overwrite_default_scope('fcos_mm'):
            wrapper = build_optim_wrapper(
                model,
                dict(optimizer=dict(type='SGD', lr=0.1),
                     paramwise_cfg=dict(bias_lr_mult=2.)))
    finally:
        logger.removeHandler(caplog.handler)
    # mmengine's own INFO line per option ("paramwise_options -- 2.bias:
    # lr=0.2") stays; the per-parameter warnings are one line.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    (record, ) = [r for r in caplog.records if 'frozen' in r.getMessage()]
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        '4 frozen parameters (requires_grad=False, set by the config: '
        'frozen_stages, norm_cfg requires_grad=False) are not optimised '
        '(0.weight, 0.bias, 1.weight, ...).')
    # Only the last conv is optimised, its bias at twice the lr.
    groups = wrapper.optimizer.param_groups
    assert [group['lr'] for group in groups] == [0.1, 0.2]
