"""The guard's cost, measured on a whole FCOS training step: with the guard
on, no more host syncs than with it off (torch.profiler counts them), and
the benchmark's table."""
from test_benchmark_train import model_cfg

from fcos_mm.benchmarks.benchmark_guard import (
    benchmark_guard,
    format_guard_benchmark,
)


def test_guard_adds_no_sync_to_a_whole_training_step():
    clip_grad = dict(max_norm=35, norm_type=2)
    results = benchmark_guard(
        model_cfg('improvements').to_dict(), num_gts=5, shape=(64, 96),
        num_imgs=2, num_iters=1, num_warmup=0, clip_grad=clip_grad)
    off, on = results['off'], results['on']
    # mmengine's clip logs float(grad_norm) every step: one sync more off.
    assert on['syncs'] <= off['syncs'] - 1
    assert results['state_mib'] > 0
    table = format_guard_benchmark(results)
    assert 'on/off' in table and 'host syncs per step' in table
    assert results['setting']['device_name'] in table


def test_guard_benchmark_in_bf16_without_clipping():
    results = benchmark_guard(
        model_cfg('vanilla').to_dict(), amp=True, num_gts=3, shape=(64, 64),
        num_imgs=1, num_iters=1, num_warmup=0)
    assert results['on']['syncs'] <= results['off']['syncs']
    assert results['setting']['amp'] is True
