"""A training batch whose step the step guard skipped, saved to replay it.

:class:`~fcos_mm.engine.hooks.NonFiniteGuardHook` saves such a batch
(``dump_bad_batches``) with :func:`save_bad_batch`;
:mod:`fcos_mm.analysis.replay_batch` (``tools/analysis_tools/
replay_batch.py``) loads it back with :func:`load_bad_batch` and
:func:`plain_to_batch`. This module is the one place that knows the file.

The file, ``WORK_DIR/bad_batches/iter_N_rankR.pth`` (:func:`bad_batch_path`),
is a dict of plain tensors, lists and dicts (:func:`batch_to_plain`: images,
per image its metainfo and ground truth), with ``iter`` and ``rank``; it
loads with ``weights_only=True`` and is written atomically.
"""
import io
import os.path as osp
from typing import Dict

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from fcos_mm.utils.atomic_io import atomic_write
from fcos_mm.utils.checkpoint import load_safely

#: The folder of the work dir the batches go to.
BAD_BATCH_DIR = 'bad_batches'

#: Metainfo keys that are tuples in a data sample (lists once saved).
_TUPLE_KEYS = ('img_shape', 'ori_shape', 'pad_shape', 'batch_input_shape',
               'scale_factor')


def to_plain(value):
    """A metainfo value as something ``weights_only`` loading accepts."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(getattr(value, 'tensor', None), torch.Tensor):
        return value.tensor.detach().cpu()  # mmdet's box types
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def batch_to_plain(data_batch: dict) -> dict:
    """A training batch as plain tensors, lists and dicts: its images, and
    per image the metainfo and the ground truth (boxes, labels, ignore
    flags where present)."""
    samples = []
    for sample in data_batch.get('data_samples') or []:
        gt = {}
        instances = getattr(sample, 'gt_instances', None)
        if instances is not None:
            for key in instances.keys():
                gt[key] = to_plain(instances.get(key))
        ignored = getattr(sample, 'ignored_instances', None)
        samples.append(
            dict(
                metainfo=to_plain(dict(sample.metainfo)),
                gt_instances=gt,
                ignored_instances={
                    key: to_plain(ignored.get(key))
                    for key in ignored.keys()
                } if ignored is not None else {}))
    inputs = data_batch.get('inputs')
    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu()
    else:
        inputs = [image.detach().cpu() for image in inputs or []]
    return dict(inputs=inputs, data_samples=samples)


def bad_batch_path(work_dir: str, iteration: int, rank: int) -> str:
    """Where the batch of ``iteration`` (from 1) on ``rank`` is saved."""
    return osp.join(work_dir, BAD_BATCH_DIR,
                    f'iter_{iteration}_rank{rank}.pth')


def save_bad_batch(data_batch: dict, work_dir: str, iteration: int,
                   rank: int) -> str:
    """Save ``data_batch`` (as the data loader gave it) atomically.

    Args:
        data_batch (dict): ``inputs`` and ``data_samples``.
        work_dir (str): The run's work dir.
        iteration (int): The iteration, from 1.
        rank (int): The process rank.

    Returns:
        str: The file written, :func:`bad_batch_path`.
    """
    path = bad_batch_path(work_dir, iteration, rank)
    buffer = io.BytesIO()
    torch.save(dict(iter=iteration, rank=rank, **batch_to_plain(data_batch)),
               buffer)
    atomic_write(buffer.getvalue(), path)
    return path


def load_bad_batch(path: str) -> Dict:
    """A saved batch (:func:`save_bad_batch`), with the safe loader."""
    return load_safely(path, map_location='cpu')


def plain_to_batch(dump: Dict) -> Dict:
    """A saved batch as the data loader gave it, the inverse of
    :func:`batch_to_plain`: ``inputs`` and ``data_samples``
    (:class:`DetDataSample` with ``gt_instances`` and
    ``ignored_instances``, boxes as ``HorizontalBoxes``)."""
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
