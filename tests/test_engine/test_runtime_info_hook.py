"""Our RuntimeInfoHook: a real ``runner.train()`` reads no tensor on the host
outside its logging iterations, and logs exactly what mmengine's hook logs
(log lines, JSON scalars, windowed means, the message hub, checkpoints)."""
import copy
import glob
import json
import os.path as osp
import pickle
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import RuntimeInfoHook as MMEngineRuntimeInfoHook
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import Runner

from fcos_mm.benchmarks.host_reads import HostReadProbe, logging_iterations
from fcos_mm.engine.hooks import RuntimeInfoHook
from fcos_mm.engine.hooks.runtime_info_hook import (
    DeviceHistoryBuffer,
    DeviceScalars,
)
from fcos_mm.engine.runner_setup import setup_train_cfg

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
R50_CONFIG = osp.join(REPO, 'configs', 'fcos_r50_fpn_1x_coco.py')
MAX_ITERS = 25
INTERVAL = 10
# what differs from run to run: wall time and memory
TIMING = ('time', 'data_time', 'eta', 'memory')


def _runner(root, work_dir, runtime_info=None, checkpoint_interval=1000):
    """A tiny FCOS trained ``MAX_ITERS`` iterations on the 2 images of
    ``coco_tiny_root``, logging every ``INTERVAL``, SGD with a warm-up."""
    cfg = Config.fromfile(R50_CONFIG)
    cfg.merge_from_dict(
        dict(
            model=dict(
                backbone=dict(depth=18, base_channels=8, init_cfg=None),
                neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
                bbox_head=dict(
                    num_classes=2,
                    in_channels=16,
                    feat_channels=16,
                    norm_cfg=dict(type='GN', num_groups=4,
                                  requires_grad=True))),
            train_dataloader=dict(
                batch_size=1,
                num_workers=0,
                persistent_workers=False,
                sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
                dataset=dict(
                    data_root=root + '/',
                    metainfo=dict(classes=('person', 'car')),
                    pipeline=[
                        dict(type='LoadImageFromFile'),
                        dict(type='LoadAnnotations', with_bbox=True),
                        dict(type='Resize', scale=(64, 64), keep_ratio=True),
                        dict(type='PackDetInputs')
                    ])),
            default_hooks=dict(
                logger=dict(interval=INTERVAL),
                checkpoint=dict(
                    by_epoch=False, interval=checkpoint_interval)),
            randomness=dict(seed=0, deterministic=True)))
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=MAX_ITERS)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=12)
    ]
    cfg.log_processor = dict(type='LogProcessor', window_size=4,
                             by_epoch=False)
    cfg.custom_hooks = []
    if runtime_info is not None:
        cfg.default_hooks.runtime_info = dict(type=runtime_info)
    setup_train_cfg(cfg, work_dir=str(work_dir))
    cfg.experiment_name = osp.basename(str(work_dir))
    # its own visualizer (a named global): its own scalars.json
    cfg.visualizer.name = cfg.experiment_name
    return Runner.from_cfg(cfg)


def _runtime_info_hook(runner):
    [hook] = [h for h in runner.hooks if isinstance(h,
                                                   MMEngineRuntimeInfoHook)]
    return hook


def _without_timing(line):
    return re.sub(r'\s+(' + '|'.join(TIMING) + r'): \S+', '', line)


def _logged(work_dir):
    """The log's training lines and the JSON scalars, timing removed."""
    [log] = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    with open(log) as f:
        lines = [
            _without_timing(line.split(' - ', 3)[-1].strip())
            for line in f if 'Iter(train)' in line
        ]
    [scalars] = glob.glob(
        osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    return lines, [{k: v for k, v in r.items() if k not in TIMING}
                   for r in records]


def _hub_scalars(hub):
    """Key, dtype and values of each training buffer but the timers."""
    return [(key, buf.data[0].dtype, buf.data[0].tolist(),
             buf.data[1].tolist()) for key, buf in hub.log_scalars.items()
            if key.split('/')[-1] not in TIMING]


def test_no_host_read_between_logs_and_the_same_log(tmp_path,
                                                   coco_tiny_root):
    """The same 25 iterations with mmengine's hook and ours, each under the
    probe: ours reads nothing outside the logging iterations (mmengine's:
    the 4 losses every iteration) and logs the same numbers, bit for
    bit."""
    root = coco_tiny_root['root']
    probes, runners = {}, {}
    # one after the other: a runner seeds at construction and initialises
    # the weights in train()
    for name, hook in (('mmengine', MMEngineRuntimeInfoHook),
                       ('ours', RuntimeInfoHook)):
        runner = runners[name] = _runner(
            root, tmp_path / name,
            runtime_info=None if name == 'ours' else 'mmengine.'
            'RuntimeInfoHook', checkpoint_interval=15)
        assert type(_runtime_info_hook(runner)) is hook
        with HostReadProbe(runner) as probes[name]:
            runner.train()
        assert runner.iter == MAX_ITERS
    theirs, ours = runners['mmengine'], runners['ours']

    # LoggerHook logs at 10, 20 and, the data loader (2 images) being
    # shorter than the interval, at the end of its first pass (2); the
    # checkpoint of iteration 15 reads the pending values (and checks the
    # weights); the first step creates the optimizer state, whose guard
    # flag is read once (step_guard.py)
    lines, records = _logged(tmp_path / 'mmengine')
    assert [line.split(']')[0] for line in lines] == [
        'Iter(train) [ 2/25', 'Iter(train) [10/25', 'Iter(train) [20/25'
    ]
    allowed = logging_iterations(MAX_ITERS, INTERVAL) + (0, 1, 14)
    assert logging_iterations(MAX_ITERS, INTERVAL) == (9, 19, 24)
    assert probes['ours'].per_iteration(skip=allowed) == [0] * 19
    assert 1 <= probes['ours'].reads[9] <= 2  # ours and the guard's
    assert probes['mmengine'].per_iteration(skip=allowed) == [4] * 19
    assert any('message_hub.py' in site for site in probes['mmengine'].sites)

    # the log lines and JSON scalars, timing aside
    assert 'loss_centerness:' in lines[1] and 'grad_norm:' in lines[1]
    assert _logged(tmp_path / 'ours') == (lines, records)
    # every value of every iteration, in mmengine's order and dtypes
    want = _hub_scalars(theirs.message_hub)
    assert [key for key, *_ in want] == [
        'train/base_lr', 'train/lr', 'train/loss', 'train/loss_cls',
        'train/loss_bbox', 'train/loss_centerness', 'train/grad_norm'
    ]
    assert len(want[2][2]) == MAX_ITERS
    assert _hub_scalars(ours.message_hub) == want
    buffer = ours.message_hub.get_scalar('train/loss')
    assert isinstance(buffer, DeviceHistoryBuffer)
    assert buffer.mean(4) == theirs.message_hub.get_scalar(
        'train/loss').mean(4)
    # the checkpoint of iteration 15 (not a logging one) holds its 15
    # values, in plain HistoryBuffers, as mmengine's
    for name in ('iter_15.pth', 'iter_25.pth'):
        saved = [
            torch.load(osp.join(str(tmp_path), run, name),
                       weights_only=False)['message_hub']['log_scalars']
            for run in ('mmengine', 'ours')
        ]
        assert list(saved[1]) == list(saved[0])
        for key, buf in saved[1].items():
            assert type(buf) is HistoryBuffer
            if key.split('/')[-1] not in TIMING:
                assert buf.data[0].tolist() == saved[0][key].data[0].tolist()
        assert len(saved[1]['train/loss'].data[0]) == int(name[5:7])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_no_cuda_sync_outside_logging_iterations_on_cuda(
        tmp_path, coco_tiny_root):
    """On a GPU, CUDA itself reports no synchronisation in a non-logging
    iteration: the data preprocessor's copies do not block either."""
    runner = _runner(coco_tiny_root['root'], tmp_path / 'cuda')
    assert next(runner.model.parameters()).is_cuda
    with HostReadProbe(runner, cuda=True) as probe:
        runner.train()
    skip = logging_iterations(MAX_ITERS, INTERVAL) + (0, 1)
    assert probe.per_iteration(skip=skip) == [0] * (MAX_ITERS - 5)
    assert probe.per_iteration(
        skip=skip, counts=probe.cuda_syncs) == [0] * (MAX_ITERS - 5)


def test_buffers_read_lazily_copy_and_pickle_plain():
    hub = MessageHub('lazy')
    hook = RuntimeInfoHook()
    items = []
    hook._update(hub, 'train/loss', torch.tensor(0.5), items)
    hook._update(hub, 'train/count', torch.tensor(3), items)
    hook._update(hub, 'train/lr', 0.1, items)
    hook.scalars.add(items)
    assert len(hook.scalars) == 1
    assert list(hub.log_scalars) == ['train/loss', 'train/count', 'train/lr']
    items = []
    hook._update(hub, 'train/loss', torch.tensor(0.25, dtype=torch.float64),
                 items)
    hook.scalars.add(items)
    # any reader gets the pending values first: an int stays an int array,
    # as mmengine's HistoryBuffer([3], [1]) makes it
    assert hub.get_scalar('train/count').current() == 3
    assert hub.get_scalar('train/count').data[0].dtype == np.array([3]).dtype
    assert len(hook.scalars) == 0
    assert hub.get_scalar('train/loss').data[0].tolist() == [0.5, 0.25]
    items = []
    hook._update(hub, 'train/loss', torch.tensor(1.0), items)
    hook.scalars.add(items)
    state = hub.state_dict()
    assert type(state['log_scalars']['train/loss']) is HistoryBuffer
    assert state['log_scalars']['train/loss'].data[0].tolist() == [
        0.5, 0.25, 1.0
    ]
    assert state['resumed_keys']['train/loss'] is True
    copied = pickle.loads(pickle.dumps(hub.get_scalar('train/loss')))
    assert type(copied) is HistoryBuffer
    assert copied.mean() == pytest.approx(1.75 / 3)
    assert type(copy.deepcopy(hub.get_scalar('train/loss'))) is HistoryBuffer


def test_resumed_history_continues():
    hub = MessageHub('resumed')
    hub.update_scalar('train/loss', 2.0)
    hook = RuntimeInfoHook()
    items = []
    hook._update(hub, 'train/loss', torch.tensor(4.0), items)
    hook.scalars.add(items)
    assert hub.get_scalar('train/loss').data[0].tolist() == [2.0, 4.0]
    assert hub.get_scalar('train/loss').mean() == 3.0


def test_a_log_variable_must_be_one_number():
    hook = RuntimeInfoHook()
    with pytest.raises(ValueError, match=r"'train/loss_cls' has 2 elements"):
        hook._update(MessageHub('bad'), 'train/loss_cls', torch.ones(2), [])


def test_one_transfer_per_dtype(monkeypatch):
    store = DeviceScalars()
    first = DeviceHistoryBuffer(store)
    second = DeviceHistoryBuffer(store)
    for step in range(3):
        store.add([(first, torch.tensor(float(step))),
                   (second, torch.tensor(step, dtype=torch.int64))])
    calls = []
    original = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, 'tolist',
                        lambda t: calls.append(t.dtype) or original(t))
    store.read()
    monkeypatch.undo()
    assert sorted(map(str, calls)) == ['torch.float32', 'torch.int64']
    assert first.data[0].tolist() == [0.0, 1.0, 2.0]
    assert second.data[0].tolist() == [0, 1, 2]
