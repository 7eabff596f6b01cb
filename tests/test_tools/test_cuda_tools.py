"""The GPU paths of the tools, run where CUDA is present (skipped cleanly
elsewhere): fp16 AMP with a dynamic loss scale through ``tools/train.py
--amp``, and ``tools/dist_train.sh CONFIG 1`` on NCCL."""
import math

import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA GPU')


def test_train_amp_fp16_with_dynamic_loss_scale(tmp_path, tiny_config,
                                                tools, tool_env):
    work_dir = str(tmp_path / 'amp')
    proc = tools.run([
        tools.python, 'tools/train.py',
        tiny_config(batch_size=2, max_epochs=2), '--amp', '--work-dir',
        work_dir
    ], tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = tools.read_iters(work_dir)
    assert [r['iter'] for r in records] == [0, 1]
    assert all(math.isfinite(r['loss']) for r in records)
    log = proc.stdout + proc.stderr
    assert 'AmpOptimWrapper' in log or 'loss_scale' in log, log[-3000:]


def test_dist_train_sh_one_gpu_uses_nccl(tmp_path, tiny_config, tools,
                                         tool_env):
    work_dir = str(tmp_path / 'dist')
    proc = tools.run([
        'bash', 'tools/dist_train.sh',
        tiny_config(batch_size=2, max_epochs=2), '1', '--amp', '--work-dir',
        work_dir
    ], tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = tools.read_iters(work_dir)
    assert {(r['backend'], r['world_size']) for r in records} == {('nccl',
                                                                   1)}
    assert all(math.isfinite(r['loss']) for r in records)
