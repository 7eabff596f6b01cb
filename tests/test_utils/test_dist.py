import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as torch_dist

from fcos_mm.utils.dist import (
    cpu_model_wrapper_cfg,
    init_dist_env,
    launcher_env,
)


def test_pytorch_launcher_reads_torchrun_variables():
    env = dict(RANK='3', LOCAL_RANK='1', WORLD_SIZE='4', MASTER_ADDR='h0',
               MASTER_PORT='1234', OTHER='x')
    assert launcher_env('pytorch', env) == dict(
        RANK='3', LOCAL_RANK='1', WORLD_SIZE='4', MASTER_ADDR='h0',
        MASTER_PORT='1234')


def test_pytorch_launcher_missing_variable_is_named():
    with pytest.raises(KeyError, match='MASTER_PORT'):
        launcher_env('pytorch', dict(RANK='0', LOCAL_RANK='0',
                                     WORLD_SIZE='1', MASTER_ADDR='h'))


def test_slurm_launcher(monkeypatch):
    # No scontrol here: the first host is read off the node list itself.
    monkeypatch.setenv('PATH', '/nonexistent')
    env = dict(SLURM_PROCID='5', SLURM_LOCALID='1', SLURM_NTASKS='8',
               SLURM_NODELIST='gpu[07-08,11]')
    assert launcher_env('slurm', env) == dict(
        RANK='5', LOCAL_RANK='1', WORLD_SIZE='8', MASTER_ADDR='gpu07',
        MASTER_PORT='29500')
    env.update(MASTER_ADDR='head', MASTER_PORT='4000')
    got = launcher_env('slurm', env, port=5555)
    assert (got['MASTER_ADDR'], got['MASTER_PORT']) == ('head', '5555')
    env = dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='n1,n2')
    got = launcher_env('slurm', env)
    assert (got['MASTER_ADDR'], got['LOCAL_RANK']) == ('n1', '0')


def test_mpi_launcher():
    env = dict(OMPI_COMM_WORLD_RANK='2', OMPI_COMM_WORLD_LOCAL_RANK='0',
               OMPI_COMM_WORLD_SIZE='3', MASTER_ADDR='m')
    assert launcher_env('mpi', env) == dict(
        RANK='2', LOCAL_RANK='0', WORLD_SIZE='3', MASTER_ADDR='m',
        MASTER_PORT='29500')
    with pytest.raises(KeyError, match='MASTER_ADDR'):
        launcher_env('mpi', dict(OMPI_COMM_WORLD_RANK='0',
                                 OMPI_COMM_WORLD_SIZE='1'))


def test_unknown_launcher():
    with pytest.raises(ValueError, match="'ray'"):
        launcher_env('ray', {})
    with pytest.raises(ValueError, match="'ray'"):
        init_dist_env('ray')
    assert init_dist_env('none') is None


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_cpu_init_uses_gloo_from_env(monkeypatch):
    # the CPU path, also on a machine that has CUDA
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert not torch_dist.is_initialized()
    # setenv records these names, so what init_dist_env writes is undone.
    _gloo_env(monkeypatch)
    try:
        # 'nccl' is what the configs ask for; without CUDA it must be gloo.
        assert init_dist_env('pytorch', backend='nccl', timeout=60) == 'gloo'
        assert torch_dist.get_world_size() == 1
        # A second call finds the group and leaves it alone.
        assert init_dist_env('pytorch') == 'gloo'
        t = torch.tensor([2.0])
        torch_dist.all_reduce(t)
        assert t.item() == 2.0
    finally:
        torch_dist.destroy_process_group()


def test_a_torchrun_restart_keys_its_group_under_its_round(monkeypatch):
    # torchrun's agent hosts one store for all restarts; what the restarted
    # group writes there must not meet what the dead round wrote.
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    _gloo_env(monkeypatch)
    agent = torch_dist.TCPStore(
        '127.0.0.1', int(os.environ['MASTER_PORT']), 1, is_master=True,
        timeout=timedelta(seconds=60))
    monkeypatch.setenv('TORCHELASTIC_USE_AGENT_STORE', 'True')
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '2')
    try:
        assert init_dist_env('pytorch', timeout=60) == 'gloo'
        t = torch.tensor([3.0])
        torch_dist.all_reduce(t)
        assert t.item() == 3.0
        keys = agent.list_keys()
        assert keys and all(k.startswith('fcos_mm/restart_2/') for k in keys)
    finally:
        torch_dist.destroy_process_group()


def test_cpu_model_wrapper_cfg_has_no_device_ids():
    cfg = cpu_model_wrapper_cfg(find_unused_parameters=True)
    assert cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                       broadcast_buffers=False, find_unused_parameters=True)


def test_slurm_first_host_from_scontrol(tmp_path, monkeypatch):
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/bin/sh\necho "gpu07\ngpu08"\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    env = dict(SLURM_PROCID='1', SLURM_NTASKS='2',
               SLURM_NODELIST='gpu[07-08]')
    assert launcher_env('slurm', env)['MASTER_ADDR'] == 'gpu07'


def _gloo_env(monkeypatch):
    for name, value in dict(
            RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(name, value)


def test_with_cuda_defers_to_mmengine(monkeypatch):
    import mmengine.dist
    calls = []

    def fake_init_dist(launcher, backend, **kwargs):
        # Stands in for mmengine's NCCL start: record, then start a group.
        calls.append((launcher, backend, kwargs))
        torch_dist.init_process_group('gloo', rank=0, world_size=1)

    _gloo_env(monkeypatch)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(mmengine.dist, 'init_dist', fake_init_dist)
    try:
        assert init_dist_env('slurm', backend='nccl', timeout=60,
                             port=1234) == 'gloo'
    finally:
        torch_dist.destroy_process_group()
    assert calls == [('slurm', 'nccl', dict(port=1234, timeout=60))]
