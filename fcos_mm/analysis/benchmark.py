"""Inference speed of a detector, split by stage.

One image at a time, a fixed input size, random pixels: the time of the
backbone, the neck, the head's forward and ``bbox_head.predict_by_feat``,
after untimed warm-up iterations; on CUDA each stage is synchronised before
its clock stops. With random weights almost no score passes the threshold,
so post-processing is faster than with a trained checkpoint.
:func:`benchmark_onnxruntime` times an exported model and
:func:`build_mmdet_fcos` builds mmdet 3.3's FCOS with the same weights, for
the ratios of :func:`format_comparison`.
"""
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from .side_by_side import mmdet_model_cfg as unscoped
from .side_by_side import random_batch, synced_clock, timed_turns

STAGES = ('backbone', 'neck', 'head', 'postprocess')


def run_stages(detector: nn.Module, images: torch.Tensor,
               img_metas: List[dict],
               clock: Callable[[], float]) -> Tuple[Dict[str, float], list]:
    """One forward pass of ``(N, 3, H, W)`` normalised ``images``: the
    seconds of each of :data:`STAGES` by ``clock`` and the head's results
    (``InstanceData`` per image). A model prepared by
    :func:`~fcos_mm.deployment.prepare_cpu_inference` runs under its
    autocast, with channels_last input."""
    from fcos_mm.deployment import inference_autocast
    if getattr(detector, 'inference_autocast', None) is not None:
        images = images.contiguous(memory_format=torch.channels_last)
    start = clock()
    with inference_autocast(detector):
        feats = detector.backbone(images)
        t_backbone = clock()
        feats = detector.neck(feats)
        t_neck = clock()
        outs = detector.bbox_head(feats)
        t_head = clock()
    results = detector.bbox_head.predict_by_feat(
        *outs, batch_img_metas=img_metas, rescale=False)
    t_post = clock()
    times = dict(
        backbone=t_backbone - start,
        neck=t_neck - t_backbone,
        head=t_head - t_neck,
        postprocess=t_post - t_head)
    return times, results


def _random_input(shape: Tuple[int, int], num_images: int, seed: int,
                  device: torch.device) -> Tuple[torch.Tensor, List[dict]]:
    """The benchmarks' ``(1, 3, H, W)`` random image and its metas."""
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}.')
    images, samples = random_batch(1, shape, 0, 1, device, seed)
    return images, [sample.metainfo for sample in samples]


def _speed(ms: Dict[str, float], num_images: int, shape: Tuple[int, int],
           device: str) -> dict:
    """A benchmark result from mean milliseconds per image."""
    return dict(
        fps=1000.0 / ms['total'],
        ms=ms,
        num_images=num_images,
        shape=tuple(shape),
        device=device)


def benchmark_detector(detector: nn.Module,
                       shape: Tuple[int, int],
                       num_images: int = 20,
                       num_warmup: int = 5,
                       seed: int = 0) -> dict:
    """Images per second and mean time per stage.

    Args:
        detector (nn.Module): A single-stage detector, on its device.
        shape (tuple[int, int]): Input (height, width).
        num_images (int): Timed images. Defaults to 20.
        num_warmup (int): Untimed images first. Defaults to 5.
        seed (int): Seed of the random input. Defaults to 0.

    Returns:
        dict: ``fps`` (images / s over the timed images), ``ms`` (dict of
        mean milliseconds per stage, plus ``'total'``), ``num_images``,
        ``shape``, ``device``, ``num_threads`` (torch's intra-op threads).
    """
    device = next(detector.parameters()).device
    images, img_metas = _random_input(shape, num_images, seed, device)
    clock = synced_clock(device)
    detector.eval()
    with torch.no_grad():
        times = [
            run_stages(detector, images, img_metas, clock)[0]
            for _ in range(num_warmup + num_images)
        ][num_warmup:]
    ms = {
        stage: 1000 * float(np.mean([seconds[stage] for seconds in times]))
        for stage in STAGES
    }
    ms['total'] = sum(ms[stage] for stage in STAGES)
    return dict(
        _speed(ms, num_images, shape, str(device)),
        num_threads=torch.get_num_threads())


def format_benchmark(result: dict) -> str:
    """A :func:`benchmark_detector` result as images/s and a stage table."""
    height, width = result['shape']
    lines = [
        f'input {height}x{width}, {result["num_images"]} timed images on '
        f'{result["device"]} ({result["num_threads"]} threads): '
        f'{result["fps"]:.2f} images/s',
        f'{"stage":<12}{"ms / image":>12}{"share":>8}'
    ]
    total = result['ms']['total']
    for stage in STAGES + ('total', ):
        ms = result['ms'][stage]
        lines.append(f'{stage:<12}{ms:>12.2f}{100 * ms / total:>7.1f}%')
    return '\n'.join(lines)


def benchmark_onnxruntime(session,
                          shape: Tuple[int, int],
                          num_images: int = 20,
                          num_warmup: int = 5,
                          seed: int = 0) -> dict:
    """:func:`benchmark_detector` (same arguments, ``ms`` has ``'total'``
    only) of an exported model's ``onnxruntime.InferenceSession``."""
    images, _ = _random_input(shape, num_images, seed, torch.device('cpu'))
    feeds = dict(
        input=images.numpy(),
        img_shapes=np.array([shape], dtype=np.float32))
    seconds = timed_turns(dict(total=lambda: session.run(None, feeds)),
                          num_warmup, num_images, time.perf_counter)
    return _speed(
        dict(total=1000 * float(np.mean(seconds['total']))), num_images,
        shape, 'cpu')


def mmdet_model_cfg(model_cfg: dict) -> dict:
    """:func:`~fcos_mm.analysis.side_by_side.mmdet_model_cfg` buildable
    from our scope: types in the ``mmdet.`` scope, no ``train_cfg`` and no
    ``init_cfg``.

    Raises:
        ValueError: The config uses something mmdet's FCOS lacks
            (``use_centerness=False``).
    """
    if not model_cfg['bbox_head'].get('use_centerness', True):
        raise ValueError("mmdet's FCOSHead always has center-ness; "
                         'use_centerness=False cannot be compared')
    cfg = unscoped(model_cfg).to_dict()
    cfg.pop('train_cfg')
    cfg['bbox_head'].pop('use_centerness', None)
    for key in ('data_preprocessor', 'backbone', 'neck', 'bbox_head'):
        part = cfg.get(key)
        if isinstance(part, dict):
            part.pop('init_cfg', None)
            if '.' not in str(part.get('type', '.')):
                part['type'] = 'mmdet.' + part['type']
    cfg['type'] = 'mmdet.FCOS'
    cfg.pop('init_cfg', None)
    return cfg


def build_mmdet_fcos(model_cfg: dict,
                     state_dict: Optional[dict] = None) -> nn.Module:
    """mmdet 3.3's FCOS from our config, optionally with our weights.

    Args:
        model_cfg (dict): ``cfg.model`` of one of our FCOS configs.
        state_dict (dict, optional): Our detector's ``state_dict()``; the
            parameter names are the same (loaded with ``strict=True``).

    Returns:
        nn.Module: mmdet's detector in eval mode.
    """
    from mmengine.config import ConfigDict

    from fcos_mm.registry import MODELS

    # mmdet's heads read test_cfg by attribute
    model = MODELS.build(ConfigDict(mmdet_model_cfg(model_cfg)))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model.eval()


def format_comparison(results: Dict[str, dict]) -> str:
    """One line per variant (name to benchmark result), with the ratios of
    its ``ms['total']`` to ``'mmdet fp32'``'s and ``'pytorch fp32'``'s."""
    bases = [name for name in ('mmdet fp32', 'pytorch fp32')
             if name in results]
    header = f'{"variant":<22}{"ms / image":>12}{"images/s":>10}' + ''.join(
        f'{"/ " + name:>18}' for name in bases)
    lines = [header]
    for name, result in results.items():
        ms = result['ms']['total']
        line = f'{name:<22}{ms:>12.1f}{1000 / ms:>10.2f}'
        for base in bases:
            line += f'{ms / results[base]["ms"]["total"]:>18.3f}'
        lines.append(line)
    return '\n'.join(lines)


def merge_rounds(results: List[dict]) -> dict:
    """One result from rounds of the same benchmark (interleaved by
    ``benchmark.py --rounds`` so that load changes hit all variants): the
    first with ``ms`` averaged, weighted by ``num_images``, which are
    summed."""
    if not results:
        raise ValueError('merge_rounds needs at least one result.')
    weights = [result['num_images'] for result in results]
    merged = dict(results[0])
    merged['ms'] = {
        key: sum(weight * result['ms'][key]
                 for weight, result in zip(weights, results)) / sum(weights)
        for key in results[0]['ms']
    }
    merged['num_images'] = sum(weights)
    merged['fps'] = 1000.0 / merged['ms']['total']
    return merged
