"""Two CPU processes (torchrun, gloo) train as one process with both images.

Rank r holds image r (batch 1, no shuffle); the single process holds both
(batch 2). The head averages its normalisers (the number of positives, the
sum of center-ness targets) over ranks, so with N positives in all, rank r's
loss is S_r / (N / 2) where S_r sums its own points' terms, and the
single process's loss is (S_0 + S_1) / N: **the mean of the two ranks'
losses equals the single-process loss**, at every iteration. DDP averages
the gradients of the per-rank losses, i.e. takes the gradient of that mean,
so both runs make the same updates and end with the same weights (up to the
order of float additions).
"""
import os.path as osp
import socket

import pytest
import torch

from fcos_mm.utils import load_safely


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_match_one_process(tmp_path, tiny_config, tools,
                                          tool_env):
    # CPU processes even where there is a GPU (two ranks cannot share one
    # GPU under NCCL); tests/test_tools/test_cuda_tools.py covers NCCL
    tool_env = dict(tool_env, CUDA_VISIBLE_DEVICES='')
    single, dist = str(tmp_path / 'single'), str(tmp_path / 'dist')
    proc = tools.run([
        tools.python, 'tools/train.py',
        tiny_config(batch_size=2, max_epochs=3, shuffle=False), '--work-dir',
        single
    ], tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = tools.run([
        'bash', 'tools/dist_train.sh',
        tiny_config(batch_size=1, max_epochs=3, shuffle=False), '2',
        '--work-dir', dist
    ], dict(tool_env, PORT=str(_free_port())))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    one = tools.read_iters(single)
    ranks = [tools.read_iters(dist, rank) for rank in (0, 1)]
    assert [r['iter'] for r in one] == [0, 1, 2]
    for rank in ranks:
        assert [r['iter'] for r in rank] == [0, 1, 2]
        # The configs ask for NCCL; without CUDA the group runs on gloo.
        assert {(r['backend'], r['world_size']) for r in rank} == {('gloo',
                                                                    2)}
    assert {(r['backend'], r['world_size']) for r in one} == {(None, 1)}
    keys = [k for k in one[0] if k.startswith('loss_')]
    assert {'loss_cls', 'loss_bbox'} <= set(keys)
    for i in range(3):
        for k in keys:
            mean = (ranks[0][i][k] + ranks[1][i][k]) / 2
            assert mean == pytest.approx(one[i][k], rel=1e-4), (i, k)
        # The images differ, so the ranks' own losses do too: the match
        # above is not two copies of the same batch.
        assert ranks[0][i]['loss_cls'] != ranks[1][i]['loss_cls']

    a = load_safely(osp.join(single, 'epoch_3.pth'))['state_dict']
    b = load_safely(osp.join(dist, 'epoch_3.pth'))['state_dict']
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
