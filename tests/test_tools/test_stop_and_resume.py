"""A stopped run loses nothing: kill -9 or a stop signal mid-epoch, then a
resume, ends with the weights of an uninterrupted run, bit for bit.

The runs: the tiny FCOS on 6 images, batch 2 (3 iterations an epoch), 2
epochs, shuffled, with RandomFlip (so the data order and the augmentation
both matter), deterministic, ``latest.pth`` after every iteration.
"""
import os
import os.path as osp
import signal
import socket
import subprocess

import pytest
import torch

from fcos_mm.engine.preemption import EXIT_CODES
from fcos_mm.utils import load_safely

# Hooks of the child config: send this process a signal during an
# iteration ($SIGNAL_AT_ITER='ITER:NAME', counted from 1) and again while
# it saves ($SIGNAL_IN_SAVE=1); kill -9 rank $KILL_RANK after iteration
# $KILL_RANK_AT_ITER on the first start only (torchrun restarts it).
STOP_HOOKS = '''
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from fcos_mm.registry import HOOKS


@HOOKS.register_module()
class SendSignal(Hook):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        spec = os.environ.get('SIGNAL_AT_ITER')
        if spec:
            at, name = spec.split(':')
            if runner.iter + 1 == int(at):
                os.kill(os.getpid(), getattr(signal, name))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        first_start = os.environ.get('TORCHELASTIC_RESTART_COUNT') == '0'
        rank = os.environ.get('KILL_RANK')
        if (first_start and rank is not None and get_rank() == int(rank)
                and runner.iter + 1 == int(os.environ['KILL_RANK_AT_ITER'])):
            os.kill(os.getpid(), signal.SIGKILL)

    def before_save_checkpoint(self, runner, checkpoint):
        # the save of the iteration the first signal came in
        spec = os.environ.get('SIGNAL_AT_ITER')
        if spec and os.environ.get('SIGNAL_IN_SAVE'):
            at, name = spec.split(':')
            if runner.iter + 1 == int(at):
                os.kill(os.getpid(), getattr(signal, name))
'''

CHILD_CONFIG = '''
_base_ = {base!r}
custom_imports = dict(imports=['helper_hooks', 'stop_hooks'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='RecordIters'), dict(type='SendSignal')]
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    num_workers={workers}, persistent_workers={persistent},
    dataset=dict(data_root={root!r}, pipeline=pipeline))
default_hooks = dict(
    checkpoint=dict(interval=1, rolling_iters=1, rolling_interval=None))
'''


@pytest.fixture
def stop_config(tmp_path, tiny_config, coco_helper):
    """A function of (workers, persistent, batch_size) giving the config of
    the module docstring (batch_size=1 for 2 ranks of 1 image)."""
    root = str(tmp_path / 'coco6')
    coco_helper.make_coco_tiny(root, num_train=6)
    with open(tmp_path / 'stop_hooks.py', 'w') as f:
        f.write(STOP_HOOKS)

    def write(workers=0, persistent=False, batch_size=2):
        path = tmp_path / f'stop_w{workers}_p{persistent}_b{batch_size}.py'
        with open(path, 'w') as f:
            f.write(
                CHILD_CONFIG.format(
                    base=tiny_config(batch_size=batch_size, max_epochs=2),
                    root=root + '/',
                    workers=workers,
                    persistent=persistent))
        return str(path)

    return write


def _train(tools, env, config, work_dir, *extra):
    return tools.run(
        [tools.python, 'tools/train.py', config, '--work-dir', work_dir,
         *extra], env)


def _assert_same_weights(path_a, path_b):
    a = load_safely(path_a)['state_dict']
    b = load_safely(path_b)['state_dict']
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _meta(path):
    return load_safely(path)['meta']


@pytest.mark.parametrize('workers,persistent', [(0, False), (2, True)])
def test_kill_9_mid_epoch_then_resume_is_bit_identical(
        tmp_path, stop_config, tools, tool_env, workers, persistent):
    config = stop_config(workers, persistent)
    whole, stopped = str(tmp_path / 'whole'), str(tmp_path / 'stopped')
    proc = _train(tools, tool_env, config, whole)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r['iter'] for r in tools.read_iters(whole)] == list(range(6))

    # killed after iteration 5 (batch 2 of epoch 2), before its checkpoint:
    # latest.pth holds 4 iterations
    proc = _train(tools, dict(tool_env, KILL_AT_ITER='5'), config, stopped)
    assert proc.returncode == -signal.SIGKILL
    assert _meta(osp.join(stopped, 'latest.pth'))['iter'] == 4
    os.remove(osp.join(stopped, 'iters_rank0.jsonl'))
    proc = _train(tools, tool_env, config, stopped, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Resuming epoch 2 at batch 2/3 (iteration 5)' in log
    assert 'Epoch(train) [2][1/3]' not in log
    assert 'Epoch(train) [2][2/3]' in log
    # exactly the remaining iterations, with the same losses
    resumed = tools.read_iters(stopped)
    assert [r['iter'] for r in resumed] == [4, 5]
    reference = tools.read_iters(whole)[4:]
    for mine, theirs in zip(resumed, reference):
        assert mine['loss'] == theirs['loss']
    _assert_same_weights(
        osp.join(whole, 'epoch_2.pth'), osp.join(stopped, 'epoch_2.pth'))


def test_sigterm_finishes_the_iteration_saves_and_resumes_bit_identical(
        tmp_path, stop_config, tools, tool_env):
    config = stop_config()
    whole, stopped = str(tmp_path / 'whole'), str(tmp_path / 'stopped')
    proc = _train(tools, tool_env, config, whole)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # SIGTERM during iteration 5, and again while the checkpoint is saved
    env = dict(tool_env, SIGNAL_AT_ITER='5:SIGTERM', SIGNAL_IN_SAVE='1')
    proc = _train(tools, env, config, stopped)
    assert proc.returncode == EXIT_CODES[signal.SIGTERM] == 143, \
        proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'SIGTERM received; finishing the current iteration' in log
    assert 'SIGTERM received while already stopping' in log
    assert 'Stopped by SIGTERM after iteration 5 (epoch 2, batch 2/3)' in log
    assert '--resume (it continues at iteration 6' in log
    # iteration 5 finished, nothing after it ran, and it is in latest.pth
    assert [r['iter'] for r in tools.read_iters(stopped)] == list(range(5))
    latest = osp.join(stopped, 'latest.pth')
    assert _meta(latest)['iter'] == 5 and _meta(latest)['epoch'] == 1
    assert not [n for n in os.listdir(stopped) if '.tmp' in n]
    with open(osp.join(stopped, 'last_checkpoint')) as f:
        assert f.read() == latest

    os.remove(osp.join(stopped, 'iters_rank0.jsonl'))
    proc = _train(tools, tool_env, config, stopped, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r['iter'] for r in tools.read_iters(stopped)] == [5]
    _assert_same_weights(
        osp.join(whole, 'epoch_2.pth'), osp.join(stopped, 'epoch_2.pth'))


def test_sigusr1_under_slurm_saves_requeues_and_the_requeued_job_resumes(
        tmp_path, stop_config, tools, tool_env):
    config = stop_config()
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'scontrol_calls.txt'
    stub = bin_dir / 'scontrol'
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    slurm = dict(
        tool_env,
        SLURM_JOB_ID='4242',
        PATH=str(bin_dir) + os.pathsep + tool_env['PATH'])
    work_dir = str(tmp_path / 'job')
    proc = _train(tools, dict(slurm, SIGNAL_AT_ITER='2:SIGUSR1'), config,
                  work_dir)
    assert proc.returncode == EXIT_CODES[signal.SIGUSR1] == 138, \
        proc.stderr[-3000:]
    assert calls.read_text() == 'requeue 4242\n'
    log = proc.stdout + proc.stderr
    assert 'Slurm job 4242 requeued' in log and 'Exit code 138' in log
    assert _meta(osp.join(work_dir, 'latest.pth'))['iter'] == 2

    # Slurm starts the requeued job with SLURM_RESTART_COUNT=1, no --resume
    os.remove(osp.join(work_dir, 'iters_rank0.jsonl'))
    proc = _train(tools, dict(slurm, SLURM_RESTART_COUNT='1'), config,
                  work_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'SLURM_RESTART_COUNT=1: this process is a restart' in (
        proc.stdout + proc.stderr)
    assert [r['iter'] for r in tools.read_iters(work_dir)] == [2, 3, 4, 5]
    assert _meta(osp.join(work_dir, 'epoch_2.pth'))['iter'] == 6


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_recovers_from_a_rank_killed_mid_epoch(
        tmp_path, stop_config, tools, tool_env):
    # 2 gloo ranks of 1 image: 3 iterations an epoch, 6 in all; rank 1 is
    # killed with SIGKILL after iteration 4 (mid epoch 2), torchrun
    # restarts both, they resume from latest.pth by themselves.
    config = stop_config(batch_size=1)
    work_dir = str(tmp_path / 'dist')
    env = dict(
        tool_env,
        CUDA_VISIBLE_DEVICES='',
        PORT=str(_free_port()),
        MAX_RESTARTS='2',
        KILL_RANK='1',
        KILL_RANK_AT_ITER='4')
    proc = tools.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir],
        env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'TORCHELASTIC_RESTART_COUNT=1: this process is a restart' in log
    # the first restart joins: its group does not read the addresses the
    # dead ranks left in torchrun's store (fcos_mm.utils.dist.restart_store)
    assert 'TORCHELASTIC_RESTART_COUNT=2' not in log
    assert 'connectFullMesh failed' not in log
    for rank in (0, 1):
        iters = [r['iter'] for r in tools.read_iters(work_dir, rank)]
        # the first start ran iterations 0-3 (rank 0 may have saved the 4th
        # before the group broke); the restart went on from the newest
        # checkpoint to the planned end, nothing trained twice but that one
        assert iters[:4] == [0, 1, 2, 3], iters
        again = iters[4:]
        assert again[0] in (3, 4) and again == list(range(again[0], 6))
    final = load_safely(osp.join(work_dir, 'epoch_2.pth'))
    assert final['meta']['iter'] == 6
    assert all(torch.isfinite(t).all() for t in final['state_dict'].values()
               if t.is_floating_point())


def test_repeat_dist_runs_script_counts_failures(tmp_path):
    # the script itself (run for N=20 by hand, see the README) on a stub
    # launcher: two runs, one fails
    script = osp.join(
        osp.dirname(__file__), '..', '..', 'tools', 'misc',
        'repeat_dist_runs.sh')
    stub = tmp_path / 'launch.sh'
    stub.write_text('#!/bin/sh\n[ "$RUN_INDEX" = 2 ] && exit 1\nexit 0\n')
    stub.chmod(0o755)
    proc = subprocess.run(
        ['bash', script, '3'],
        env=dict(os.environ, LAUNCH=str(stub), WORK_ROOT=str(tmp_path / 'w')),
        capture_output=True,
        text=True,
        timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'non-zero exits: 1 of 3' in proc.stdout


@pytest.mark.parametrize('rolling', [
    dict(rolling_iters=1, rolling_interval=None),
    dict(rolling_iters=None, rolling_interval=1e-9)
])
def test_latest_replaces_itself_outside_max_keep_ckpts(
        tmp_path, tiny_config, rolling):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from fcos_mm.engine.runner_setup import setup_train_cfg
    work_dir = tmp_path / ('by_iters' if rolling['rolling_iters'] else
                           'by_time')
    cfg = Config.fromfile(
        tiny_config(batch_size=1, max_epochs=3), import_custom_modules=False)
    cfg.pop('custom_imports')
    cfg.custom_hooks = []
    cfg.merge_from_dict(
        dict(default_hooks=dict(checkpoint=dict(
            interval=2, by_epoch=False, max_keep_ckpts=1, **rolling))))
    setup_train_cfg(cfg, work_dir=str(work_dir))
    cfg.experiment_name = work_dir.name
    Runner.from_cfg(cfg).train()
    # 6 iterations: iter_2/4/6 (one kept), latest.pth after 1, 3 and 5
    assert sorted(n for n in os.listdir(work_dir)
                  if n.endswith('.pth')) == ['iter_6.pth', 'latest.pth']
    assert _meta(str(work_dir / 'latest.pth'))['iter'] == 5
    assert not [n for n in os.listdir(work_dir) if '.tmp' in n]


ITER_CONFIG = '''
_base_ = {base!r}
train_dataloader = dict(sampler=dict(_delete_=True, type='InfiniteSampler',
                                     shuffle=True, seed=0))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6,
                 val_interval=100)
default_hooks = dict(checkpoint=dict(
    by_epoch=False, interval=100, rolling_iters=1, rolling_interval=None))
'''


def test_iteration_based_resume_skips_by_index(tmp_path, stop_config,
                                               tools, tool_env):
    config = str(tmp_path / 'iter_based.py')
    with open(config, 'w') as f:
        f.write(ITER_CONFIG.format(base=stop_config()))
    whole, stopped = str(tmp_path / 'whole'), str(tmp_path / 'stopped')
    proc = _train(tools, tool_env, config, whole)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _train(tools, dict(tool_env, KILL_AT_ITER='5'), config, stopped)
    assert proc.returncode == -signal.SIGKILL
    os.remove(osp.join(stopped, 'iters_rank0.jsonl'))
    proc = _train(tools, tool_env, config, stopped, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Resuming at iteration 5: the 4 finished batches are skipped' in log
    assert 'Advance dataloader' not in log  # mmengine's loading skip
    resumed = tools.read_iters(stopped)
    assert [r['iter'] for r in resumed] == [4, 5]
    # num_workers=0: the same batches, flipped the same way (the random
    # states come back from the checkpoint)
    reference = tools.read_iters(whole)[4:]
    for mine, theirs in zip(resumed, reference):
        assert mine['loss'] == theirs['loss']
    _assert_same_weights(
        osp.join(whole, 'iter_6.pth'), osp.join(stopped, 'iter_6.pth'))
