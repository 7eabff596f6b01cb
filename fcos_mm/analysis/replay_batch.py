"""Replay a batch that the step guard skipped, to see where it went wrong.

``tools/train.py --dump-bad-batches`` saves each skipped step's batch
(:func:`~fcos_mm.engine.hooks.nonfinite_guard_hook.batch_to_plain`: images,
metainfo, ground truth; plain tensors, safe to load). :func:`replay_batch`
runs it through a model once more, forward, loss and backward in float32,
and names the first module whose output is non-finite, the loss terms that
are, and the first parameter whose gradient is: fairseq's "re-run the bad
batch" idea, offline.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from fcos_mm.utils.checkpoint import load_safely

_TUPLE_KEYS = ('img_shape', 'ori_shape', 'pad_shape', 'batch_input_shape',
               'scale_factor')


def load_dump(path: str) -> Dict:
    """A dumped batch, loaded with the safe loader."""
    return load_safely(path, map_location='cpu')


def dump_to_batch(dump: Dict) -> Dict:
    """A dumped batch as the data loader gave it: ``inputs`` and
    ``data_samples`` (:class:`DetDataSample` with ``gt_instances``)."""
    samples = []
    for plain in dump['data_samples']:
        metainfo = {
            key: tuple(value) if key in _TUPLE_KEYS and isinstance(
                value, list) else value
            for key, value in plain['metainfo'].items()
        }
        sample = DetDataSample(metainfo=metainfo)
        gt = dict(plain['gt_instances'])
        if 'bboxes' in gt:
            gt['bboxes'] = HorizontalBoxes(gt['bboxes'].reshape(-1, 4))
        sample.gt_instances = InstanceData(**gt)
        ignored = dict(plain.get('ignored_instances') or {})
        if 'bboxes' in ignored:
            ignored['bboxes'] = HorizontalBoxes(
                ignored['bboxes'].reshape(-1, 4))
        sample.ignored_instances = InstanceData(**ignored)
        samples.append(sample)
    return dict(inputs=dump['inputs'], data_samples=samples)


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
        dump (dict): :func:`load_dump`'s result.

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
        data = model.data_preprocessor(dump_to_batch(dump), True)
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
