"""Stop signals set a flag the loop polls; ranks agree on the iteration
to stop at; Slurm's requeue is called as documented."""
import os
import signal

import pytest
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from fcos_mm.engine.preemption import (
    EXIT_CODES,
    StopSignals,
    requeue_slurm_job,
)


def test_exit_codes_follow_the_shell_convention():
    assert EXIT_CODES == {
        signal.SIGINT: 130,
        signal.SIGUSR1: 138,
        signal.SIGTERM: 143
    }


def test_a_signal_is_polled_and_a_second_one_only_reported(capfd):
    stop = StopSignals()
    before = signal.getsignal(signal.SIGTERM)
    assert stop.install()
    try:
        assert stop.poll() == 0
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.poll() == signal.SIGUSR1
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.poll() == signal.SIGUSR1  # the first one counts
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGTERM) is before
    err = capfd.readouterr().err
    assert 'SIGUSR1 received; finishing the current iteration' in err
    assert 'SIGTERM received while already stopping for SIGUSR1' in err


def _rank(rank, port, results):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=2)
    stop = StopSignals()
    stop.install()
    polled = []
    for iteration in range(6):
        if rank == 1 and iteration == 2:
            stop.received = signal.SIGTERM  # what the handler does
        polled.append(stop.poll())
    stop.barrier()
    stop.uninstall()
    torch_dist.destroy_process_group()
    results[rank] = polled


def test_two_ranks_stop_at_the_same_iteration():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    results = mp.get_context('fork').Manager().dict()
    mp.start_processes(
        _rank, args=(port, results), nprocs=2, start_method='fork')
    # rank 1 got the signal during iteration 2; both read the agreed flag
    # one iteration later
    expected = [0, 0, 0, signal.SIGTERM, signal.SIGTERM, signal.SIGTERM]
    assert results[0] == expected and results[1] == expected


@pytest.mark.parametrize('ok', [True, False])
def test_requeue_calls_scontrol_with_the_job(tmp_path, ok):
    calls = tmp_path / 'calls'
    stub = tmp_path / 'scontrol'
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n'
                    f'{"exit 0" if ok else "echo denied >&2; exit 1"}\n')
    stub.chmod(0o755)
    env = dict(SLURM_JOB_ID='77')
    old_path = os.environ['PATH']
    os.environ['PATH'] = f'{tmp_path}{os.pathsep}{old_path}'
    try:
        said = requeue_slurm_job(env)
        array = requeue_slurm_job(
            dict(env, SLURM_ARRAY_JOB_ID='70', SLURM_ARRAY_TASK_ID='3'))
    finally:
        os.environ['PATH'] = old_path
    assert calls.read_text() == 'requeue 77\nrequeue 70_3\n'
    if ok:
        assert said == 'Slurm job 77 requeued (scontrol requeue 77)'
        assert '70_3' in array
    else:
        assert 'failed (denied)' in said and '--resume' in said
    assert requeue_slurm_job({}) is None
