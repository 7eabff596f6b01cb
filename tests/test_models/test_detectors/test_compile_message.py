"""``--compile`` (``model.compile_loss``) says that the first step compiles
and roughly how long it takes, then how long it took; once, not per step.
torch.compile itself is replaced by the eager function here: the messages,
not the compiler, are under test."""
import os.path as osp

import torch
from mmengine.config import Config

from fcos_mm.benchmarks import random_batch
from fcos_mm.models.detectors import fcos as fcos_module
from fcos_mm.registry import MODELS
from fcos_mm.utils import register_all_modules

DEMO = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', 'demo',
    'fcos_r18-w16_fpn-64_gn-head-center-normbbox-centeronreg-giou_'
    '1xb8-1000i_synthetic.py')


def test_compiling_message_names_the_device_and_the_wait():
    cpu = fcos_module.compiling_message(torch.device('cpu'))
    assert cpu == (
        'torch.compile (--compile / model.compile_loss): compiling the '
        'training forward, loss and backward in the first step; expect '
        'minutes on CPU (about 5 on 2 cores) before the first iteration is '
        'logged.')
    assert 'a minute or more on GPU' in fcos_module.compiling_message(
        torch.device('cuda'))


def test_the_first_compiled_step_logs_before_and_after(monkeypatch):
    register_all_modules()
    cfg = Config.fromfile(DEMO).model
    cfg.backbone.init_cfg = None
    cfg.compile_loss = True
    model = MODELS.build(cfg).train()
    compiled = []
    monkeypatch.setattr(
        torch, 'compile',
        lambda fn, **kwargs: compiled.append(kwargs) or fn)
    logged = []
    monkeypatch.setattr(fcos_module, 'print_log',
                        lambda message, *args, **kwargs: logged.append(
                            message))
    inputs, samples = random_batch(1, (64, 64), 2,
                                   model.bbox_head.num_classes)
    for _ in range(2):
        losses = model.loss(inputs, samples)
        assert torch.isfinite(sum(losses.values()))
    assert compiled == [dict(fullgraph=True, dynamic=False)]
    assert len(logged) == 2  # the first step only
    assert logged[0] == fcos_module.compiling_message(torch.device('cpu'))
    assert logged[1].startswith('torch.compile: the forward and loss '
                                'compiled in ')
    assert logged[1].endswith(
        ' s (the backward compiles when it first runs); each new batch '
        'shape (image size, box bucket) compiles once more.')
