"""What the non-finite step guard costs: a whole training step (forward,
loss, backward, optimizer wrapper step) with the guard on against the same
step with it off, two copies of one model timed in turns.

The guard's work per step is one norm per gradient (which
``clip_grad_norm_`` computes anyway), a snapshot of the weights and the
optimizer state and a ``where`` back into them, all on the device; the
host reads nothing (``syncs``).
"""
import copy
import statistics
from typing import Dict, Tuple

import torch
from mmengine.registry import DefaultScope

from .harness import (
    TrainStep,
    build_optim_wrapper,
    count_ops,
    device_name,
    format_table,
    peak_memory,
    random_batch,
    ratio,
    synced_clock,
    timed_turns,
)


def _state_mib(model, wrapper) -> float:
    """MiB of what the guard snapshots: trained weights and their state."""
    tensors = [p for p in model.parameters() if p.requires_grad]
    tensors += [
        value for state in wrapper.optimizer.state.values()
        for value in state.values() if isinstance(value, torch.Tensor)
    ]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def benchmark_guard(model_cfg: dict,
                    device: str = 'cpu',
                    amp: bool = False,
                    num_gts: int = 30,
                    shape: Tuple[int, int] = (800, 1216),
                    num_imgs: int = 2,
                    num_iters: int = 10,
                    num_warmup: int = 3,
                    clip_grad: dict = None,
                    seed: int = 0) -> dict:
    """Step time, host syncs and peak memory with the guard off and on.

    Args:
        model_cfg (dict): Our ``model`` config (the backbone's pretrained
            init is dropped: nothing is downloaded).
        device (str): 'cpu' or a CUDA device.
        amp (bool): Mixed precision (fp16 + loss scaling on CUDA, bf16 on
            CPU).
        num_gts, shape, num_imgs: The random batch.
        num_iters (int): Timed steps per side; ``num_warmup`` untimed first.
        clip_grad (dict, optional): The wrappers' ``clip_grad``.
        seed (int): Seed of the batch.

    Returns:
        dict: ``off`` and ``on``, each with ``step_ms`` (median),
        ``syncs`` (per step, after the first), ``peak_mib``; ``state_mib``
        (the size of what the guard snapshots) and ``setting``.
    """
    from fcos_mm.registry import MODELS
    device = torch.device(device)
    cfg = copy.deepcopy(model_cfg)
    cfg['backbone']['init_cfg'] = None
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        model = MODELS.build(cfg)
    model.init_weights()
    models = dict(off=model.to(device).train(),
                  on=copy.deepcopy(model).to(device).train())
    inputs, samples = random_batch(num_imgs, shape, num_gts,
                                   cfg['bbox_head']['num_classes'],
                                   str(device), seed)
    steps, results = {}, {}
    for name, net in models.items():
        step = TrainStep(
            net, inputs, samples,
            build_optim_wrapper(net, device, amp, clip_grad,
                                guard=name == 'on', weight_decay=1e-4))
        step()  # creates the optimizer state (the guard reads the flag once)
        steps[name] = step
        results[name] = dict(syncs=count_ops(step)['syncs'])
        results['state_mib'] = _state_mib(net, step.wrapper)
    times = timed_turns(steps, num_warmup, num_iters, synced_clock(device))
    for name, seconds in times.items():
        results[name]['step_ms'] = 1000 * statistics.median(seconds)
        results[name]['peak_mib'] = peak_memory(steps[name], device) / 2**20
    results['setting'] = dict(
        device=str(device),
        device_name=device_name(device),
        amp=amp, num_gts=num_gts, shape=tuple(shape), num_imgs=num_imgs,
        num_iters=num_iters, clip_grad=clip_grad,
        num_threads=torch.get_num_threads())
    return results


def format_guard_benchmark(results: Dict) -> str:
    """A :func:`benchmark_guard` result as a table of on / off ratios."""
    setting = results['setting']
    height, width = setting['shape']
    lines = [
        f'train step with the non-finite step guard off / on: '
        f'{setting["num_imgs"]} images of {height}x{width}, '
        f'{setting["num_gts"]} boxes each, '
        f'{"AMP" if setting["amp"] else "fp32"}, '
        f'clip_grad={setting["clip_grad"]}, on {setting["device"]} '
        f'({setting["device_name"]}, {setting["num_threads"]} threads), '
        f'median of {setting["num_iters"]} steps in turns'
    ]
    off, on = results['off'], results['on']
    lines += format_table(
        [('', '<30'), ('off', '>10.1f'), ('on', '>10.1f'), ('on/off', '>8')],
        [(label, off[key], on[key], ratio(on[key], off[key]))
         for key, label in (('step_ms', 'train step (ms, median)'),
                            ('peak_mib', 'peak memory of a step (MiB)'),
                            ('syncs', 'host syncs per step'))])
    lines.append(f'snapshot the guard keeps per step: '
                 f'{results["state_mib"]:.1f} MiB (trained weights + '
                 f'optimizer state)')
    return '\n'.join(lines)
