"""Shared by the tool tests: a tiny config over the R50 config (trained in
subprocesses on ``coco_tiny_root``, from tests/conftest.py) and helpers to
run the tools and read what they recorded."""
import json
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
R50_CONFIG = osp.join(REPO, 'configs', 'fcos_r50_fpn_1x_coco.py')

# A tiny FCOS for the training tests: ResNet-18 with 8 base channels, FPN
# and head at 16 channels, GN with 4 groups. Frozen BN (as in the caffe
# configs) keeps a batch of 2 images and 2 ranks of 1 image equivalent.
TINY_CONFIG = '''
_base_ = {base!r}
custom_imports = dict(imports=['helper_hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='RecordIters'), dict(type='Sabotage')]
data_root = {root!r}
metainfo = dict(classes=('person', 'car'))
model = dict(
    backbone=dict(depth=18, base_channels=8, init_cfg=None),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    bbox_head=dict(
        num_classes=2, in_channels=16, feat_channels=16,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True)))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle={shuffle}, seed=0),
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=pipeline))
train_cfg = dict(max_epochs={max_epochs}, val_interval=100)
{evaluation}
default_hooks = dict(logger=dict(interval=1))
log_processor = dict(window_size=1)
randomness = dict(seed=0, deterministic=True)
'''

EVAL_OFF = '''
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
'''
EVAL_ON = '''
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))
]
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={val_ann!r})
test_evaluator = val_evaluator
'''

# Hooks the subprocesses import (custom_imports): record which iterations a
# process ran with its losses, and kill the process after iteration
# $KILL_AT_ITER, as a crash or a pre-empted job would. Sabotage: make
# loss_bbox NaN at the iterations (counted from 1) of $NAN_LOSS_ITERS
# ('3,5', or '3-' for 3 and after), and kill the process with SIGKILL in the
# middle of a file write ($KILL_IN_SAVE='K:N': the K-th write, after N
# bytes).
HELPER_HOOKS = '''
import json
import os
import signal

import fcos_mm.utils.atomic_io as atomic_io

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from fcos_mm.registry import HOOKS


@HOOKS.register_module()
class RecordIters(Hook):

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        import torch.distributed as dist
        backend = dist.get_backend() if dist.is_initialized() else None
        record = dict(pid=os.getpid(), iter=runner.iter, backend=backend,
                      world_size=runner.world_size,
                      **{k: float(v) for k, v in outputs.items()})
        path = os.path.join(runner.work_dir, f'iters_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\\n')
        if runner.iter + 1 == int(os.environ.get('KILL_AT_ITER', -1)):
            os.kill(os.getpid(), signal.SIGKILL)


def nan_iters(spec):
    if spec.endswith('-'):
        start = int(spec[:-1])
        return lambda i: i >= start
    chosen = {int(i) for i in spec.split(',') if i}
    return lambda i: i in chosen


@HOOKS.register_module()
class Sabotage(Hook):

    def before_train(self, runner):
        spec = os.environ.get('NAN_LOSS_ITERS')
        if spec:
            bad = nan_iters(spec)
            model = getattr(runner.model, 'module', runner.model)
            head = model.bbox_head
            original = head.loss_by_feat

            def loss_by_feat(*args, **kwargs):
                losses = original(*args, **kwargs)
                if bad(runner.iter + 1):
                    losses['loss_bbox'] = losses['loss_bbox'] * float('nan')
                return losses

            head.loss_by_feat = loss_by_feat
        kill = os.environ.get('KILL_IN_SAVE')
        if kill:
            nth, nbytes = map(int, kill.split(':'))
            count = [0]
            write = atomic_io._write

            def dying_write(f, data):
                count[0] += 1
                if count[0] == nth:
                    f.write(data[:nbytes])
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                write(f, data)

            atomic_io._write = dying_write
'''


@pytest.fixture
def tiny_config(tmp_path, coco_tiny_root):
    """Write the tiny config (and its hooks module) into tmp_path.

    Returns a function of (batch_size, max_epochs, shuffle, evaluation)
    giving the config path; without evaluation, val/test are switched off.
    """
    with open(tmp_path / 'helper_hooks.py', 'w') as f:
        f.write(HELPER_HOOKS)

    def write(batch_size=1, max_epochs=3, shuffle=True, evaluation=False):
        path = tmp_path / f'tiny_b{batch_size}_e{max_epochs}.py'
        evaluation = EVAL_ON.format(val_ann=coco_tiny_root['val_ann']) \
            if evaluation else EVAL_OFF
        with open(path, 'w') as f:
            f.write(
                TINY_CONFIG.format(
                    base=R50_CONFIG,
                    root=coco_tiny_root['root'] + '/',
                    batch_size=batch_size,
                    max_epochs=max_epochs,
                    shuffle=shuffle,
                    evaluation=evaluation))
        return str(path)

    return write


@pytest.fixture
def tool_env(tmp_path):
    """Environment for tool subprocesses: the venv's python first on PATH,
    the repo and tmp_path (helper_hooks) importable, one thread each."""
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO, str(tmp_path), env.get('PYTHONPATH', '')])
    env['OMP_NUM_THREADS'] = '1'
    for name in ('KILL_AT_ITER', 'NAN_LOSS_ITERS', 'KILL_IN_SAVE'):
        env.pop(name, None)
    return env


def run_tool(args, env, timeout=300):
    """Run a command from the repo root; returns the CompletedProcess."""
    return subprocess.run(
        args,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)


def read_iters(work_dir, rank=0):
    """The records RecordIters wrote for ``rank``, in order."""
    with open(osp.join(work_dir, f'iters_rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def tools():
    """run_tool / read_iters and the paths, for the test modules."""
    return SimpleNamespace(
        run=run_tool,
        read_iters=read_iters,
        repo=REPO,
        r50_config=R50_CONFIG,
        python=sys.executable)
