"""Inference speed of a detector, split by stage.

One image at a time, a fixed input size, random pixels: the time of the
backbone, the neck, the head's forward and ``bbox_head.predict_by_feat``,
after untimed warm-up iterations; on CUDA each stage is synchronised before
its clock stops. With random weights almost no score passes the threshold,
so post-processing is faster than with a trained checkpoint.
:func:`benchmark_onnxruntime` times an exported model;
:func:`benchmark_variants` times several (ours, mmdet's twin from
:mod:`.mmdet_twin`, onnxruntime) in interleaved rounds, for the ratios of
:func:`format_comparison`.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .harness import (
    format_table,
    interleaved_rounds,
    random_batch,
    synced_clock,
    timed_turns,
)

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
    times = []  # the stages' seconds of each call, warm-up calls first
    with torch.no_grad():
        timed_turns(
            dict(stages=lambda: times.append(
                run_stages(detector, images, img_metas, clock)[0])),
            num_warmup, num_images, clock)
    times = times[num_warmup:]
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
    total = result['ms']['total']
    return '\n'.join([
        f'input {height}x{width}, {result["num_images"]} timed images on '
        f'{result["device"]} ({result["num_threads"]} threads): '
        f'{result["fps"]:.2f} images/s'
    ] + format_table(
        [('stage', '<12'), ('ms / image', '>12.2f'), ('share', '>8')],
        [(stage, result['ms'][stage],
          f'{100 * result["ms"][stage] / total:.1f}%')
         for stage in STAGES + ('total', )]))


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
                          num_warmup, num_images)
    return _speed(
        dict(total=1000 * float(np.mean(seconds['total']))), num_images,
        shape, 'cpu')


def format_comparison(results: Dict[str, dict]) -> str:
    """One line per variant (name to benchmark result), with the ratios of
    its ``ms['total']`` to ``'mmdet fp32'``'s and ``'pytorch fp32'``'s."""
    bases = [name for name in ('mmdet fp32', 'pytorch fp32')
             if name in results]
    columns = [('variant', '<22'), ('ms / image', '>12.1f'),
               ('images/s', '>10.2f')]
    columns += [('/ ' + base, '>18.3f') for base in bases]
    rows = []
    for name, result in results.items():
        ms = result['ms']['total']
        rows.append([name, ms, 1000 / ms] + [
            ms / results[base]['ms']['total'] for base in bases])
    return '\n'.join(format_table(columns, rows))


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


def benchmark_variants(variants: Dict[str, Callable[..., dict]],
                       rounds: int = 1,
                       num_images: int = 20,
                       num_warmup: int = 5) -> Dict[str, dict]:
    """Several variants timed in interleaved rounds, so that a change of
    the machine's load hits all alike.

    Args:
        variants (dict): Name to a function ``(num_images, num_warmup) ->
            result`` (:func:`benchmark_detector` or
            :func:`benchmark_onnxruntime` with its model and shape bound).
        rounds (int): Rounds of ``num_images`` per variant. Defaults to 1.
        num_images (int): Timed images per round. Defaults to 20.
        num_warmup (int): Untimed images first, in the first round only.
            Defaults to 5.

    Returns:
        dict: Name to its rounds' :func:`merge_rounds` result.
    """
    runs = {
        name: (lambda index, run=run: run(num_images,
                                           num_warmup if index == 0 else 0))
        for name, run in variants.items()
    }
    return {
        name: merge_rounds(results)
        for name, results in interleaved_rounds(runs, rounds).items()
    }


def benchmark_config(cfg,
                     shape: Tuple[int, int],
                     checkpoint: Optional[str] = None,
                     device: str = 'cpu',
                     backends: Sequence[str] = ('pytorch', ),
                     onnx: Optional[str] = None,
                     amp: bool = False,
                     compare_mmdet: bool = False,
                     rounds: int = 1,
                     num_images: int = 20,
                     num_warmup: int = 5,
                     num_threads: Optional[int] = None,
                     log: Callable[[str], None] = print) -> Dict[str, dict]:
    """What ``tools/analysis_tools/benchmark.py`` runs: the variants of a
    config's detector timed in interleaved rounds, their tables ``log``-ged.

    Args:
        cfg (Config): The config, ``--cfg-options`` merged.
        shape (tuple[int, int]): Input (height, width).
        checkpoint (str, optional): Weights (default: random).
        device (str): E.g. ``'cpu'`` or ``'cuda:0'``.
        backends (Sequence[str]): ``'pytorch'`` (ours, fp32 eager) and/or
            ``'onnxruntime'`` (its static-shape export).
        onnx (str, optional): An exported model for onnxruntime (default:
            export to a temporary file).
        amp (bool): Also ours prepared for fast CPU inference.
        compare_mmdet (bool): Also mmdet 3.3's twin, same weights.
        rounds, num_images, num_warmup: See :func:`benchmark_variants`.
        num_threads (int, optional): torch's intra-op threads, also given
            to onnxruntime.
        log (callable): Takes each printed block.

    Returns:
        dict: Variant name to its merged result.
    """
    import copy
    import os.path as osp
    import tempfile
    from functools import partial

    from fcos_mm.apis import init_detector
    from fcos_mm.deployment import (
        bf16_support,
        create_session,
        export_onnx,
        prepare_cpu_inference,
    )

    from .mmdet_twin import build_mmdet_fcos
    if num_threads is not None:
        torch.set_num_threads(num_threads)

    def build():
        return init_detector(copy.deepcopy(cfg), checkpoint, device=device)

    # variant name -> function(num_images, num_warmup) -> result
    variants = {}
    model = build()
    if compare_mmdet:
        mmdet_model = build_mmdet_fcos(model.cfg.model,
                                       model.state_dict()).to(device)
        variants['mmdet fp32'] = partial(benchmark_detector, mmdet_model,
                                         shape)
    if 'pytorch' in backends:
        variants['pytorch fp32'] = partial(benchmark_detector, model, shape)
    if amp:
        fast = build()
        log(f'--amp: {prepare_cpu_inference(fast, amp=True)}')
        name = 'pytorch bf16' if fast.inference_autocast else (
            'pytorch fp32+fold')
        variants[name] = partial(benchmark_detector, fast, shape)
    with tempfile.TemporaryDirectory() as tmp_dir:
        if 'onnxruntime' in backends:
            onnx_file = onnx or osp.join(tmp_dir, 'model.onnx')
            if onnx is None:
                export_onnx(model, onnx_file, shape=shape)
            session = create_session(onnx_file, num_threads
                                     or torch.get_num_threads())
            variants['onnxruntime'] = partial(benchmark_onnxruntime,
                                              session, shape)
        results = benchmark_variants(variants, rounds, num_images,
                                     num_warmup)
    for name, result in results.items():
        if 'backbone' in result['ms']:
            log(f'{name}: {format_benchmark(result)}')
    log(f'CPU: {bf16_support()[1]}')
    log(f'input {shape[0]}x{shape[1]}, batch 1, {rounds} round(s) '
        f'of {num_images} timed images per variant, interleaved, '
        f'{torch.get_num_threads()} threads')
    log(format_comparison(results))
    return results
