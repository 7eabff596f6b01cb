"""Saves that die, fill the disk or hold NaN never leave the work dir
without a loadable checkpoint, and --resume continues from the newest
complete one."""
import errno
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fcos_mm.utils.atomic_io as atomic_io
from fcos_mm.engine import CheckpointSaveError
from fcos_mm.engine.hooks.checkpoint_hook import _RemovalsDeferred
from fcos_mm.engine.resume import (
    find_resumable_checkpoint,
    resume_candidates,
    why_not_resumable,
)
from fcos_mm.engine.runner_setup import setup_train_cfg
from fcos_mm.utils.checkpoint import (
    load_safely,
    register_safe_checkpoint_loader,
)


class Killed(BaseException):
    """Stands for the process dying: nothing in the save path catches it."""


def test_atomic_write_leaves_old_or_new_never_a_mix(tmp_path, monkeypatch):
    path = str(tmp_path / 'file.bin')
    atomic_io.atomic_write(b'old' * 100, path)
    for nbytes in (0, 1, 150, 299):

        def dying(f, data, nbytes=nbytes):
            f.write(data[:nbytes])
            raise Killed

        monkeypatch.setattr(atomic_io, '_write', dying)
        with pytest.raises(Killed):
            atomic_io.atomic_write(b'new' * 100, path)
        with open(path, 'rb') as f:
            assert f.read() == b'old' * 100
    monkeypatch.undo()
    atomic_io.atomic_write('new', path)
    with open(path) as f:
        assert f.read() == 'new'
    assert os.listdir(tmp_path) == ['file.bin']


def test_stale_temp_files_are_removed(tmp_path):
    stale = tmp_path / '.iter_3.pth.tmp4242'
    stale.write_bytes(b'half')
    other = tmp_path / '.hidden.tmpnotapid'
    other.write_bytes(b'x')
    logged = []
    assert atomic_io.remove_stale_temp_files(
        str(tmp_path), logged.append) == [str(stale)]
    assert not stale.exists() and other.exists()
    assert 'unfinished write' in logged[0]


def _save_runner(tiny_config, work_dir, max_epochs=3):
    cfg = Config.fromfile(
        tiny_config(batch_size=1, max_epochs=max_epochs),
        import_custom_modules=False)
    cfg.pop('custom_imports')
    cfg.custom_hooks = []
    cfg.merge_from_dict(
        dict(default_hooks=dict(
            checkpoint=dict(interval=1, by_epoch=False, max_keep_ckpts=1))))
    setup_train_cfg(cfg, work_dir=str(work_dir))
    cfg.experiment_name = osp.basename(str(work_dir))
    return Runner.from_cfg(cfg)


# A checkpoint every iteration, max_keep_ckpts=1: write 2k-1 is iter_k.pth,
# write 2k is last_checkpoint. Kill points from the second save on.
KILL_POINTS = [(write, nbytes) for write in (3, 4, 5, 6, 7)
               for nbytes in (0, 10, 1000, -1)]


def test_saves_killed_at_20_points_always_leave_a_resumable_checkpoint(
        tmp_path, tiny_config, monkeypatch):
    assert len(KILL_POINTS) == 20
    real_write = atomic_io._write
    for index, (nth, nbytes) in enumerate(KILL_POINTS):
        work_dir = tmp_path / f'kill{index}'
        count = [0]

        def dying(f, data, nth=nth, nbytes=nbytes):
            count[0] += 1
            if count[0] == nth:
                f.write(data[:nbytes if nbytes >= 0 else len(data) - 1])
                raise Killed
            real_write(f, data)

        monkeypatch.setattr(atomic_io, '_write', dying)
        runner = _save_runner(tiny_config, work_dir)
        with pytest.raises(Killed):
            runner.train()
        monkeypatch.setattr(atomic_io, '_write', real_write)
        # The newest complete checkpoint: iter_k is write 2k-1, complete
        # once a later write started.
        complete = nth // 2
        path = find_resumable_checkpoint(str(work_dir), lambda m: None)
        assert path == str(work_dir / f'iter_{complete}.pth'), (nth, nbytes)
        with open(work_dir / 'last_checkpoint') as f:
            named = f.read()
        assert why_not_resumable(named) is None
    # And one of them resumes for real (with the safe loader, as the tools).
    register_safe_checkpoint_loader()
    runner = _save_runner(tiny_config, tmp_path / 'kill0')
    runner._resume = True
    runner.train()
    # From iter_1 (epoch 0, batch 1 of 2): the epoch goes on at batch 2,
    # then 2 more epochs; 6 iterations in all, as planned.
    assert runner.iter == 6
    assert sorted(n for n in os.listdir(tmp_path / 'kill0')
                  if n.endswith('.pth')) == ['iter_6.pth']


def test_disk_full_keeps_previous_checkpoints_and_says_so(
        tmp_path, tiny_config, monkeypatch):
    real_write = atomic_io._write
    count = [0]

    def full(f, data):
        count[0] += 1
        if count[0] == 5:  # the third checkpoint
            f.write(data[:len(data) // 2])
            raise OSError(errno.ENOSPC, 'No space left on device')
        real_write(f, data)

    monkeypatch.setattr(atomic_io, '_write', full)
    runner = _save_runner(tiny_config, tmp_path / 'full')
    with pytest.raises(CheckpointSaveError) as error:
        runner.train()
    message = str(error.value)
    assert 'iter_3.pth' in message and 'No space left on device' in message
    assert 'intact: iter_2.pth' in message
    work_dir = tmp_path / 'full'
    names = os.listdir(work_dir)
    assert sorted(n for n in names if n.endswith('.pth')) == ['iter_2.pth']
    assert not any('.tmp' in n for n in names)
    with open(work_dir / 'last_checkpoint') as f:
        assert f.read() == str(work_dir / 'iter_2.pth')
    assert why_not_resumable(str(work_dir / 'iter_2.pth')) is None


def test_resume_picks_the_newest_valid_checkpoint_and_says_why(tmp_path):
    def save(name, iteration, **changes):
        state = dict(meta=dict(epoch=0, iter=iteration),
                     state_dict=dict(w=torch.ones(2)))
        state.update(changes)
        torch.save(state, tmp_path / name)

    save('iter_1.pth', 1)
    save('iter_2.pth', 2)
    save('iter_3.pth', 3, state_dict=dict(w=torch.tensor([1., float('nan')])))
    save('iter_4.pth', 5)
    save('iter_5.pth', 5)
    with open(tmp_path / 'iter_5.pth', 'r+b') as f:
        f.truncate(100)
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(str(tmp_path / 'iter_5.pth'))
    (tmp_path / 'best_coco_bbox_mAP_iter_1.pth').write_bytes(b'x')

    assert resume_candidates(str(tmp_path)) == [
        str(tmp_path / f'iter_{i}.pth') for i in (5, 4, 3, 2, 1)
    ]
    logged = []
    assert find_resumable_checkpoint(
        str(tmp_path), logged.append) == str(tmp_path / 'iter_2.pth')
    assert len(logged) == 3
    assert 'iter_5.pth' in logged[0] and 'corrupt or truncated' in logged[0]
    assert 'name says iter 4 but its meta says iter=5' in logged[1]
    assert 'NaN/inf in state_dict.w' in logged[2]
    assert find_resumable_checkpoint(str(tmp_path / 'none')) is None


def test_removals_of_the_best_checkpoint_wait_for_the_new_one(tmp_path):
    from mmengine.fileio.backends import LocalBackend
    old, new = tmp_path / 'best_1.pth', tmp_path / 'best_2.pth'
    old.write_bytes(b'old')
    deferred = _RemovalsDeferred(LocalBackend())
    deferred.remove(str(old))
    assert old.exists() and deferred.isfile(str(old))
    new.write_bytes(b'new')
    deferred.rmtree(str(new))  # a path that is kept is never removed
    deferred.run(keep=[str(new)])
    assert not old.exists() and new.exists()


def test_kill_9_during_a_save_then_resume(tmp_path, tiny_config, tool_env,
                                          tools):
    config = tiny_config(batch_size=1, max_epochs=3)
    work_dir = str(tmp_path / 'run')
    # The 3rd write is epoch_2.pth: killed halfway through it.
    env = dict(tool_env, KILL_IN_SAVE='3:5000')
    result = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir
    ], env)
    assert result.returncode == -9
    names = os.listdir(work_dir)
    assert 'epoch_1.pth' in names and 'epoch_2.pth' not in names
    assert any(n.startswith('.epoch_2.pth.tmp') for n in names)
    result = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--resume'
    ], tool_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'unfinished write' in result.stdout + result.stderr
    names = os.listdir(work_dir)
    assert not any('.tmp' in n for n in names)
    iters = tools.read_iters(work_dir)
    assert [r['iter'] for r in iters if r['pid'] == iters[-1]['pid']
            ] == [2, 3, 4, 5]
    assert load_safely(osp.join(work_dir, 'epoch_3.pth'))['meta'][
        'epoch'] == 3
