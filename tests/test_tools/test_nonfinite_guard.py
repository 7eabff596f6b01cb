"""A run with NaN losses, end to end: the skipped steps change nothing, are
named in the log and in nonfinite_steps.jsonl, too many in a row stop the
run with a non-zero exit, and --resume continues from a finite checkpoint.
"""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from fcos_mm.engine import NonFiniteGuardHook, NonFiniteTrainingError
from fcos_mm.engine.runner_setup import setup_train_cfg
from fcos_mm.utils.checkpoint import load_safely, nonfinite_tensors


def _runner(tiny_config, work_dir, amp=False, **cfg_options):
    cfg = Config.fromfile(
        tiny_config(batch_size=1, max_epochs=2), import_custom_modules=False)
    cfg.pop('custom_imports')
    cfg.custom_hooks = []
    cfg.merge_from_dict(cfg_options)
    setup_train_cfg(cfg, work_dir=str(work_dir), amp=amp)
    cfg.experiment_name = osp.basename(str(work_dir))
    return Runner.from_cfg(cfg)


def _poison(runner, iters):
    head = runner.model.bbox_head
    original = head.loss_by_feat

    def loss_by_feat(*args, **kwargs):
        losses = original(*args, **kwargs)
        if runner.iter + 1 in iters:
            losses['loss_bbox'] = losses['loss_bbox'] * float('nan')
        return losses

    head.loss_by_feat = loss_by_feat


class Snapshots(Hook):
    """Weights, optimizer state and BN buffers after each iteration."""

    def __init__(self):
        self.states = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        state = {k: v.detach().clone()
                 for k, v in runner.model.state_dict().items()}
        for index, s in enumerate(
                runner.optim_wrapper.optimizer.state.values()):
            for key, value in s.items():
                state[f'optimizer.{index}.{key}'] = value.clone()
        self.states.append(state)


def _read_log(work_dir):
    [log] = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    with open(log) as f:
        return f.read()


@pytest.mark.parametrize('amp', [False, True], ids=['fp32', 'bf16'])
def test_one_nan_step_changes_nothing_and_is_named(tmp_path, tiny_config,
                                                   amp):
    work_dir = tmp_path / ('bf16' if amp else 'fp32')
    runner = _runner(
        tiny_config, work_dir, amp=amp,
        default_hooks=dict(logger=dict(interval=2)))
    _poison(runner, {2})
    snapshots = Snapshots()
    runner.register_hook(snapshots, priority='LOWEST')
    runner.train()

    before, after = snapshots.states[0], snapshots.states[1]
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    # Healthy steps go on updating.
    assert not torch.equal(after['bbox_head.conv_cls.weight'],
                           snapshots.states[2]['bbox_head.conv_cls.weight'])

    with open(work_dir / 'nonfinite_steps.jsonl') as f:
        [entry] = [json.loads(line) for line in f]
    assert entry['iter'] == 2 and entry['rank'] == 0
    assert entry['nonfinite_losses'] == {'loss_bbox': 'nan'}
    assert entry['grad_norm'] == 'nan'
    paths = [image['img_path'] for image in entry['images']]
    assert len(paths) == 1 and osp.isfile(paths[0])
    assert entry['first_nonfinite_grad'] is not None
    log = _read_log(work_dir)
    assert ('Skipped the update of iteration 2 (rank 0): non-finite loss '
            'loss_bbox=nan') in log
    assert osp.basename(paths[0]) in log
    guard = [h for h in runner.hooks if isinstance(h, NonFiniteGuardHook)]
    assert guard[0].skipped_steps == 1
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        checkpoint = load_safely(str(work_dir / name))
        assert nonfinite_tensors(checkpoint['state_dict']) == []


def test_guard_can_be_switched_off_by_config(tmp_path, tiny_config):
    runner = _runner(
        tiny_config, tmp_path / 'off',
        default_hooks=dict(nonfinite_guard=dict(enabled=False)))
    _poison(runner, {2})
    # Without the guard the NaN reaches the weights, and the checkpoint
    # hook refuses to save them.
    from fcos_mm.engine import NonFiniteCheckpointError
    with pytest.raises(NonFiniteCheckpointError, match='NaN/inf in'):
        runner.train()
    assert not runner.optim_wrapper.step_guard_enabled


def test_too_many_skipped_steps_stop_in_process(tmp_path, tiny_config):
    runner = _runner(
        tiny_config, tmp_path / 'stop',
        train_cfg=dict(max_epochs=4),
        default_hooks=dict(
            nonfinite_guard=dict(max_consecutive=100, window=4,
                                 max_fraction=0.5)))
    _poison(runner, {2, 3, 4, 5})
    with pytest.raises(NonFiniteTrainingError) as error:
        runner.train()
    message = str(error.value)
    assert 'Training stopped at iteration 4' in message
    assert '3 of the last 4 optimizer steps' in message
    for cause in ('learning rate too high', 'warm-up', 'clip_grad',
                  'tools/misc/check_dataset.py'):
        assert cause in message


def test_nan_run_stops_with_exit_1_then_resume_finishes(
        tmp_path, tiny_config, tool_env, tools):
    config = tiny_config(batch_size=1, max_epochs=6)
    work_dir = str(tmp_path / 'run')
    env = dict(tool_env, NAN_LOSS_ITERS='3-')
    result = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--dump-bad-batches'
    ], env)
    assert result.returncode == 1, result.stderr[-3000:]
    log = result.stdout + result.stderr  # the logger writes to stdout
    assert ('Training stopped at iteration 7: 5 optimizer steps in a row '
            '(iterations 3-7) were skipped') in log
    assert 'Likely causes, and what to try:' in log
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        'fcos_mm: Training stopped at iteration 7')
    with open(osp.join(work_dir, 'nonfinite_steps.jsonl')) as f:
        entries = [json.loads(line) for line in f]
    assert [e['iter'] for e in entries] == [3, 4, 5, 6, 7]
    assert all(osp.isfile(e['dump']) for e in entries)
    dump = load_safely(entries[0]['dump'])
    assert dump['iter'] == 3 and len(dump['data_samples']) == 1
    assert dump['data_samples'][0]['gt_instances']['bboxes'].shape[-1] == 4

    # Every checkpoint on disk is finite, and the skipped steps changed
    # nothing: epoch_2 and epoch_3 (iterations 4, 6) hold the weights of
    # epoch_1 (iteration 2).
    states = [
        load_safely(osp.join(work_dir, f'epoch_{e}.pth'))['state_dict']
        for e in (1, 2, 3)
    ]
    for state in states:
        assert nonfinite_tensors(state) == []
    for key in states[0]:
        assert torch.equal(states[0][key], states[2][key]), key

    # The dumped batch replays (the NaN came from the sabotaged loss, so
    # the replay itself is finite).
    result = tools.run([
        tools.python, 'tools/analysis_tools/replay_batch.py', config,
        osp.join(work_dir, 'epoch_3.pth'), entries[0]['dump']
    ], tool_env)
    assert result.returncode == 0, result.stderr[-3000:]
    replay = json.loads(result.stdout[result.stdout.index('{'):])
    assert replay['nonfinite_losses'] == []
    assert replay['images'] == [i['img_path'] for i in entries[0]['images']]

    result = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--resume'
    ], tool_env)
    assert result.returncode == 0, result.stderr[-3000:]
    iters = tools.read_iters(work_dir)
    resumed = [r['iter'] for r in iters if r['pid'] == iters[-1]['pid']]
    assert resumed == list(range(6, 12))
    assert all(r['loss'] == r['loss'] for r in iters[-6:])  # finite again


def test_a_skipped_steps_batch_is_saved_for_the_replay(tmp_path, tiny_config):
    from fcos_mm.analysis.replay_batch import replay_batch
    from fcos_mm.engine.bad_batch import load_bad_batch, plain_to_batch
    work_dir = tmp_path / 'dump'
    runner = _runner(
        tiny_config, work_dir,
        default_hooks=dict(nonfinite_guard=dict(dump_bad_batches=True)),
        train_cfg=dict(max_epochs=1))
    _poison(runner, {2})
    runner.train()
    with open(work_dir / 'nonfinite_steps.jsonl') as f:
        [entry] = [json.loads(line) for line in f]
    assert entry['dump'] == str(work_dir / 'bad_batches' /
                                'iter_2_rank0.pth')
    assert glob.glob(str(work_dir / 'bad_batches' / '*')) == [entry['dump']]
    dump = load_bad_batch(entry['dump'])
    assert (dump['iter'], dump['rank']) == (2, 0)
    [sample] = plain_to_batch(dump)['data_samples']
    assert sample.img_path == entry['images'][0]['img_path']
    assert len(sample.gt_instances) > 0
    # the poison was in the loss, not the batch: the replay finds it healthy
    assert replay_batch(runner.model, dump)['nonfinite_losses'] == []
