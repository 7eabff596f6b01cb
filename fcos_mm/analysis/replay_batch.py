"""Replay a batch that the step guard skipped, to see where it went wrong.

``tools/train.py --dump-bad-batches`` saves each skipped step's batch
(:mod:`fcos_mm.engine.bad_batch`: images, metainfo, ground truth; plain
tensors, safe to load). :func:`replay_batch` runs it through a model once
more, forward, loss and backward in float32, and names the first module
whose output is non-finite, the loss terms that are, and the first parameter
whose gradient is: fairseq's "re-run the bad batch" idea, offline.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from fcos_mm.engine.bad_batch import plain_to_batch


def _first_nonfinite(tensors) -> bool:
    if isinstance(tensors, torch.Tensor):
        return tensors.is_floating_point() and not bool(
            torch.isfinite(tensors).all())
    if isinstance(tensors, (list, tuple)):
        return any(_first_nonfinite(t) for t in tensors)
    if isinstance(tensors, dict):
        return any(_first_nonfinite(t) for t in tensors.values())
    return False


def replay_batch(model: nn.Module, dump: Dict) -> Dict:
    """Run a dumped batch through ``model`` (train mode, float32).

    Args:
        model (nn.Module): The detector, e.g. built from the run's config
            and loaded with its checkpoint.
        dump (dict): A saved batch,
            :func:`~fcos_mm.engine.bad_batch.load_bad_batch`'s result.

    Returns:
        dict: ``losses`` (name -> float), ``nonfinite_losses`` (names),
        ``first_nonfinite_module`` (the first module, in call order, whose
        output held NaN/inf, or None), ``first_nonfinite_grad`` (the first
        parameter, in ``named_parameters`` order, whose gradient did, or
        None), and ``images``.
    """
    names = {module: name for name, module in model.named_modules()}
    first: List[Optional[str]] = [None]

    def watch(module, args, output):
        if first[0] is None and _first_nonfinite(output):
            first[0] = names.get(module) or type(module).__name__

    handles = [m.register_forward_hook(watch) for m in model.modules()]
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        data = model.data_preprocessor(plain_to_batch(dump), True)
        losses = model(**data, mode='loss')
    finally:
        for handle in handles:
            handle.remove()
    total = sum(value.sum() for key, value in losses.items()
                if 'loss' in key)
    total.backward()
    grad = next((name for name, p in model.named_parameters()
                 if p.grad is not None and not bool(
                     torch.isfinite(p.grad).all())), None)
    values = {key: float(value.sum()) for key, value in losses.items()}
    return dict(
        losses=values,
        nonfinite_losses=[k for k, v in values.items() if v != v or
                          abs(v) == float('inf')],
        first_nonfinite_module=first[0],
        first_nonfinite_grad=grad,
        images=[s['metainfo'].get('img_path') for s in dump['data_samples']])
