"""What the tools say is true: the step guard's stop message names the
checkpoint that exists (or says none does) and its clip_grad advice works
as written, in both forms; a CPU run's log header names gloo and the
process count; the checkpoint loader is logged by a readable name."""
import argparse
import glob
import os.path as osp
import re
import socket

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from fcos_mm.engine import NonFiniteTrainingError
from fcos_mm.engine.hooks.nonfinite_guard_hook import clip_grad_advice
from fcos_mm.engine.runner_setup import build_runner, setup_train_cfg
from fcos_mm.utils.tool_args import load_tool_config, parse_tool_args

CLIP = dict(max_norm=35, norm_type=2)


def _cfg(tiny_config, work_dir, **cfg_options):
    cfg = Config.fromfile(
        tiny_config(batch_size=1, max_epochs=2), import_custom_modules=False)
    cfg.pop('custom_imports')
    cfg.custom_hooks = []
    cfg.merge_from_dict(cfg_options)
    setup_train_cfg(cfg, work_dir=str(work_dir))
    cfg.experiment_name = osp.basename(str(work_dir))
    return cfg


def _poison(runner, iters):
    head = runner.model.bbox_head
    original = head.loss_by_feat

    def loss_by_feat(*args, **kwargs):
        losses = original(*args, **kwargs)
        if runner.iter + 1 in iters:
            losses['loss_bbox'] = losses['loss_bbox'] * float('nan')
        return losses

    head.loss_by_feat = loss_by_feat


def _stop_message(runner):
    with pytest.raises(NonFiniteTrainingError) as error:
        runner.train()
    return str(error.value)


def test_a_stop_before_any_checkpoint_says_there_is_none(
        tmp_path, tiny_config):
    work_dir = tmp_path / 'early'
    runner = Runner.from_cfg(
        _cfg(tiny_config, work_dir,
             optim_wrapper=dict(clip_grad=None),
             default_hooks=dict(nonfinite_guard=dict(max_consecutive=2))))
    _poison(runner, {1, 2})
    message = _stop_message(runner)
    assert 'Training stopped at iteration 2' in message
    assert glob.glob(str(work_dir / '*.pth')) == []
    assert (f'No checkpoint has been written yet in {work_dir} '
            '(default_hooks.checkpoint saves every 1 epoch): a new run '
            'starts from the beginning (or load_from).') in message
    assert 'is finite' not in message and '--resume' not in message
    # clip_grad=None in the config: the advice that replaces it
    assert ('no gradient clipping: turn it on with `--cfg-options '
            'optim_wrapper.clip_grad.max_norm=35 '
            'optim_wrapper.clip_grad.norm_type=2` (tools/train.py), or in '
            'a child config `optim_wrapper = dict(clip_grad=dict('
            '_delete_=True, max_norm=35, norm_type=2))`.') in message


def test_a_stop_after_a_checkpoint_names_it(tmp_path, tiny_config):
    work_dir = tmp_path / 'late'
    runner = Runner.from_cfg(
        _cfg(tiny_config, work_dir, train_cfg=dict(max_epochs=3),
             default_hooks=dict(nonfinite_guard=dict(max_consecutive=2))))
    _poison(runner, {3, 4})
    message = _stop_message(runner)
    assert 'Training stopped at iteration 4' in message
    newest = osp.join(str(work_dir), 'epoch_1.pth')
    assert sorted(glob.glob(str(work_dir / '*.pth'))) == [newest]
    assert (f'The newest checkpoint is {newest} (the checkpoint hook never '
            'writes one with NaN/inf); `tools/train.py CONFIG --resume` '
            'continues from the newest one that loads and is finite.'
            ) in message
    # the tiny config clips already (the R50 schedule's clip_grad)
    assert ("gradient clipping: clip_grad={'max_norm': 35, 'norm_type': 2} "
            'is set') in message


def _clip_of(cfg):
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)
    return wrapper.clip_grad_kwargs


@pytest.mark.parametrize(
    'base_clip', ['clip_grad=None', '', 'clip_grad=dict(max_norm=5)'],
    ids=['none', 'absent', 'set'])
def test_clip_grad_advice_applies_as_written(tmp_path, base_clip):
    base = tmp_path / 'base.py'
    base.write_text("optim_wrapper = dict(type='OptimWrapper', "
                    "optimizer=dict(type='SGD', lr=0.01), "
                    f'{base_clip})\n')
    advice = clip_grad_advice(Config.fromfile(str(base)).optim_wrapper)
    # the command-line form, through the tools' own parser and loader
    options = re.search(r'`--cfg-options (.*?)`', advice).group(1).split()
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    args = parse_tool_args(parser, [str(base), '--cfg-options', *options],
                           'a=1')
    assert _clip_of(load_tool_config(args)) == CLIP
    # the child-config form
    child = tmp_path / 'child.py'
    child.write_text("_base_ = './base.py'\n" +
                     re.search(r'child config `(.*?)`', advice).group(1))
    assert _clip_of(Config.fromfile(str(child))) == CLIP


def test_cfg_options_read_a_dict_value_and_name_an_unreadable_one(
        tmp_path, capsys):
    base = tmp_path / 'base.py'
    base.write_text('optim_wrapper = dict(clip_grad=None)\n')
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    args = parse_tool_args(parser, [
        str(base), '--cfg-options',
        'optim_wrapper.clip_grad=dict(max_norm=35,norm_type=2)'
    ], 'a=1')
    assert args.cfg_options == {'optim_wrapper.clip_grad': CLIP}
    assert load_tool_config(args).optim_wrapper.clip_grad == CLIP
    parser = argparse.ArgumentParser()
    with pytest.raises(SystemExit):
        parse_tool_args(parser, ['--cfg-options', 'a.b=dict(x=1,2)'], 'a=1')
    assert ('--cfg-options a.b=dict(x=1,2): cannot read the value of a.b. '
            'Give a dict as one option per field (a.b.FIELD=VALUE ...)'
            ) in capsys.readouterr().err


def test_cpu_log_header_names_gloo_and_the_process_count(
        tmp_path, tiny_config, monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for name, value in dict(
            RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port)).items():
        monkeypatch.setenv(name, value)
    work_dir = tmp_path / 'gloo'
    cfg = _cfg(tiny_config, work_dir)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'  # the config's
    try:
        runner = build_runner(cfg, 'pytorch')
    finally:
        torch_dist.destroy_process_group()
    [log] = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    with open(log) as f:
        header = f.read().split('Config:')[0]
    assert "dist_cfg: {'backend': 'gloo'}" in header
    assert 'nccl' not in header and 'GPU number' not in header
    assert 'Distributed training: True' in header
    assert 'Processes (CPU only): 1' in header
    assert runner.world_size == 1


def test_checkpoint_loader_is_logged_by_a_readable_name(tmp_path,
                                                       monkeypatch):
    import mmengine.runner.checkpoint as mm_checkpoint

    from fcos_mm.utils.checkpoint import register_safe_checkpoint_loader
    register_safe_checkpoint_loader()
    path = str(tmp_path / 'weights.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(1))), path)
    logged = []
    monkeypatch.setattr(mm_checkpoint, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    checkpoint = mm_checkpoint.CheckpointLoader.load_checkpoint(path)
    assert torch.equal(checkpoint['state_dict']['w'], torch.ones(1))
    assert logged == [f'Loads checkpoint by local backend from path: {path}']
