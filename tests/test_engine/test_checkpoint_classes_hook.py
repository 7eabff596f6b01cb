"""CheckpointClassesHook and the checks behind it
(fcos_mm.utils.checkpoint): a checkpoint of another class count."""
import copy
import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from fcos_mm.engine import CheckpointClassesHook
from fcos_mm.registry import HOOKS, MODELS
from fcos_mm.utils import register_all_modules
from fcos_mm.utils.checkpoint import (
    check_checkpoint_classes,
    class_counts,
    mismatched_weights,
)


@pytest.fixture(scope='module')
def models(model_cfg):
    """The small FCOS with 3 classes, and one with 80 (a COCO model)."""
    register_all_modules()
    torch.manual_seed(0)
    three = MODELS.build(model_cfg())
    cfg = model_cfg()
    cfg['bbox_head']['num_classes'] = 80
    coco = MODELS.build(cfg)
    return three, coco


def _runner(model, **cfg):
    return SimpleNamespace(model=model, cfg=Config(cfg))


def test_mismatch_found_and_counted(models):
    three, coco = models
    # as DDP saves it: a 'module.' prefix, which mmengine strips on load
    state = {f'module.{k}': v for k, v in coco.state_dict().items()}
    mismatched = mismatched_weights(state, three)
    assert mismatched == [
        ('module.bbox_head.conv_cls.weight', (80, 32, 3, 3), (3, 32, 3, 3)),
        ('module.bbox_head.conv_cls.bias', (80, ), (3, )),
    ]
    assert class_counts(mismatched, three) == ('model.bbox_head.num_classes',
                                               80, 3)
    assert mismatched_weights(three.state_dict(), three) == []
    check_checkpoint_classes(dict(state_dict=three.state_dict()), three,
                             'same.pth')


def test_test_time_mismatch_is_an_error_naming_both_counts(models):
    three, coco = models
    hook = HOOKS.build(dict(type='CheckpointClassesHook'))
    checkpoint = dict(state_dict=copy.copy(coco.state_dict()))
    with pytest.raises(ValueError) as e:
        hook.after_load_checkpoint(
            _runner(three, load_from='coco.pth'), checkpoint)
    message = str(e.value)
    assert message.startswith(
        "Checkpoint coco.pth was trained for 80 classes, but the config's "
        'model.bbox_head.num_classes is 3 (bbox_head.conv_cls.weight, '
        'bbox_head.conv_cls.bias: shapes (80, 32, 3, 3), (80,) in the '
        'checkpoint, (3, 32, 3, 3), (3,) in the model)')
    assert ('--cfg-options model.bbox_head.num_classes=80' in message)
    assert ('tools/train.py CONFIG --cfg-options load_from=coco.pth'
            in message)


def test_fine_tuning_reinitialises_with_one_log_line(models, caplog):
    three, coco = models
    hook = CheckpointClassesHook(on_mismatch='reinit')
    checkpoint = dict(state_dict=dict(coco.state_dict()))
    logger = MMLogger.get_instance('test_checkpoint_classes_hook')
    MMLogger._instance_dict.move_to_end('test_checkpoint_classes_hook')
    caplog.handler.setLevel(logging.INFO)
    logger.addHandler(caplog.handler)
    try:
        hook.after_load_checkpoint(
            _runner(three, load_from='coco.pth'), checkpoint)
    finally:
        logger.removeHandler(caplog.handler)
    (record, ) = caplog.records
    assert record.getMessage() == (
        'load_from coco.pth: re-initialised 2 tensor(s) whose shape differs '
        "from the model's, because the checkpoint has 80 classes, this "
        'config 3 (model.bbox_head.num_classes): bbox_head.conv_cls.weight '
        '(80, 32, 3, 3) -> (3, 32, 3, 3), bbox_head.conv_cls.bias (80,) -> '
        '(3,). They start from their initialisation and are trained from '
        'scratch; everything else is loaded.')
    # The classifier is the model's own (its focal-loss bias prior), the
    # rest the checkpoint's; loading it is silent (no mismatch left).
    state = checkpoint['state_dict']
    own = three.state_dict()
    assert torch.equal(state['bbox_head.conv_cls.bias'],
                       own['bbox_head.conv_cls.bias'])
    assert torch.equal(state['bbox_head.conv_reg.weight'],
                       coco.state_dict()['bbox_head.conv_reg.weight'])
    assert mismatched_weights(state, three) == []


def test_resume_of_another_shape_stays_an_error(models):
    three, coco = models
    hook = CheckpointClassesHook(on_mismatch='reinit')
    with pytest.raises(ValueError, match='trained for 80 classes'):
        hook.after_load_checkpoint(
            _runner(three, load_from='w/iter_4.pth', resume=True),
            dict(state_dict=dict(coco.state_dict())))
    with pytest.raises(ValueError, match="on_mismatch must be one of"):
        CheckpointClassesHook(on_mismatch='ignore')
