"""A training step of our FCOS against mmdet 3.3's, side by side.

Both detectors are built from the same model config (:func:`build_pair`,
same weights) and see the same random batch (:func:`random_batch`).
Measured per side: the losses; the median time of a training step and of
the head's loss + backward alone; the peak memory of a step
(:func:`peak_memory`); and in ``bbox_head.loss`` the aten calls (kernel
launches on a GPU) and host-device synchronisations (:func:`count_ops`).
"""
import copy
import logging
import re
import statistics
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from fcos_mm.analysis.side_by_side import (
    mmdet_model_cfg,
    random_batch,
    synced_clock,
    synchronize,
    timed_turns,
)
from fcos_mm.deployment.cpu_inference import cpu_flags
from fcos_mm.models.detectors.fcos import compile_options
from fcos_mm.models.utils import prepare_ground_truth

#: The profiler events that are host-device synchronisations on a GPU:
#: every ``.item()``, ``bool(t)``, ``int(t)``, and ``nonzero`` (its size).
SYNC_OPS = ('aten::_local_scalar_dense', 'aten::nonzero')


def build_pair(model_cfg: dict,
               device: str = 'cpu') -> Tuple[nn.Module, nn.Module]:
    """``(mmdet_model, ours)`` in train mode on ``device``, ours loaded
    with mmdet's weights; the pretrained backbone init of our ``model``
    config is dropped (nothing is downloaded)."""
    from mmdet.registry import MODELS as MMDET_MODELS

    from fcos_mm.registry import MODELS
    model_cfg = ConfigDict(copy.deepcopy(model_cfg))
    model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        mm_model = MMDET_MODELS.build(mmdet_model_cfg(model_cfg))
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        ours = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights lists every parameter
    try:
        mm_model.init_weights()
    finally:
        logger.setLevel(level)
    ours.load_state_dict(mm_model.state_dict(), strict=True)
    return mm_model.to(device).train(), ours.to(device).train()


def count_ops(fn: Callable[[], object]) -> Dict[str, int]:
    """Aten calls and host-device synchronisations of one call of ``fn``:
    ``aten_calls`` (every ``aten::`` event, nested ones included),
    ``syncs`` (the :data:`SYNC_OPS` events) and each of :data:`SYNC_OPS`."""
    with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    names = [event.name for event in prof.events()]
    counts = {name: names.count(name) for name in SYNC_OPS}
    counts['syncs'] = sum(counts[name] for name in SYNC_OPS)
    counts['aten_calls'] = sum(name.startswith('aten::') for name in names)
    return counts


def peak_memory(fn: Callable[[], object], device: torch.device) -> int:
    """Bytes allocated at the peak of one call of ``fn`` beyond those held
    before it: the CUDA caching allocator's peak, or on CPU the running sum
    of the allocations ``torch.profiler`` records (op granularity)."""
    if device.type == 'cuda':
        synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU],
            profile_memory=True) as prof:
        fn()
    # each allocation or free is counted once, in the innermost op that
    # made it ('[memory]' for frees outside any op)
    deltas = sorted((event.time_range.start, event.self_cpu_memory_usage)
                    for event in prof.events())
    peak = current = 0
    for _, delta in deltas:
        current += delta
        peak = max(peak, current)
    return peak


def graph_breaks(head: nn.Module, feats: Tuple[torch.Tensor],
                 samples: List[DetDataSample]) -> Dict[str, int]:
    """``graphs`` and ``graph_breaks`` of ``torch._dynamo.explain`` on the
    head's forward + ``loss_by_feat`` (traced, not compiled)."""
    gts = [sample.gt_instances for sample in samples]
    metas = [sample.metainfo for sample in samples]
    torch._dynamo.reset()
    explained = torch._dynamo.explain(
        lambda feats: head.loss_by_feat(*head(feats), gts, metas))(feats)
    torch._dynamo.reset()
    return dict(graphs=explained.graph_count,
                graph_breaks=explained.graph_break_count)


def compiled_graphs() -> int:
    """Graphs Dynamo has compiled in this process so far."""
    return int(torch._dynamo.utils.counters['stats']['unique_graphs'])


class _TrainStep:
    """One SGD step of a detector on a fixed batch, optionally under AMP
    (float16 with a loss scaler on CUDA, bfloat16 on CPU)."""

    def __init__(self, model: nn.Module, inputs: torch.Tensor,
                 samples: List[DetDataSample], amp: bool) -> None:
        self.model = model
        self.inputs = inputs
        self.samples = samples
        self.device = inputs.device
        self.amp = amp
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=1e-4, momentum=0.9)
        self.scaler = (
            torch.amp.GradScaler('cuda')
            if amp and self.device.type == 'cuda' else None)
        self.losses: Dict[str, float] = {}

    def autocast(self):
        dtype = torch.float16 if self.device.type == 'cuda' else torch.bfloat16
        return torch.autocast(
            self.device.type, dtype=dtype, enabled=self.amp)

    def __call__(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            losses = self.model(self.inputs, self.samples, mode='loss')
        total = sum(losses.values())
        if self.scaler is not None:
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            total.backward()
            self.optimizer.step()
        self.losses = {key: value.detach() for key, value in losses.items()}

    def head_loss(self) -> Dict[str, torch.Tensor]:
        """``bbox_head.loss`` alone, on features computed beforehand."""
        with self.autocast():
            return self.model.bbox_head.loss(self.feats, self.samples)

    def head_step(self) -> None:
        """``bbox_head.loss`` and its backward through the head alone."""
        self.optimizer.zero_grad(set_to_none=True)
        sum(self.head_loss().values()).backward()

    def prepare_head_loss(self) -> None:
        with torch.no_grad(), self.autocast():
            self.feats = self.model.extract_feat(self.inputs)


def benchmark_train(model_cfg: dict,
                    device: str = 'cpu',
                    amp: bool = False,
                    num_gts: int = 30,
                    shape: Tuple[int, int] = (800, 1216),
                    num_imgs: int = 2,
                    num_iters: int = 10,
                    num_warmup: int = 3,
                    seed: int = 0,
                    compile: bool = False,
                    cuda_graphs: bool = False,
                    compile_kwargs: Optional[dict] = None) -> dict:
    """Time, memory, ops and syncs of a training step: ours vs mmdet's,
    timed in turns (:func:`~fcos_mm.analysis.benchmark.timed_turns`).

    Args:
        model_cfg (dict): Our ``model`` config.
        device (str): 'cpu' or a CUDA device. Defaults to 'cpu'.
        amp (bool): Mixed precision (fp16 + loss scaling on CUDA, bf16 on
            CPU). Defaults to False.
        num_gts (int): Boxes per image. Defaults to 30.
        shape (tuple[int, int]): Input (height, width). Defaults to
            (800, 1216).
        num_imgs (int): Images per batch. Defaults to 2.
        num_iters (int): Timed steps per side. Defaults to 10.
        num_warmup (int): Untimed steps per side first. Defaults to 3.
        seed (int): Seed of the batch. Defaults to 0.
        compile (bool): Also ``compiled``: ours with ``compile_loss`` (the
            ground truth padded to its bucket), timed beside the others;
            its first step's time is ``compile_s``, the graphs Dynamo
            compiled over all its steps ``graphs_compiled``. Defaults to
            False.
        cuda_graphs (bool): ``compiled`` with CUDA graphs. Defaults to False.
        compile_kwargs (dict, optional): More ``torch.compile`` arguments,
            e.g. ``backend``. Defaults to None.

    Returns:
        dict: ``mmdet`` and ``ours`` (and ``compiled``), each with
        ``losses`` (first step), ``step_ms`` (and ``head_ms``, eager sides)
        medians, ``peak_mib``, ``aten_calls``, ``syncs`` and the per-op sync
        counts of ``bbox_head.loss``, ``step_syncs`` of a whole step, and the
        eager sides' ``graphs`` and ``graph_breaks`` of the head's forward +
        loss; and ``setting``.
    """
    device = torch.device(device)
    mm_model, ours = build_pair(model_cfg, str(device))
    inputs, samples = random_batch(num_imgs, shape, num_gts,
                                   model_cfg['bbox_head']['num_classes'],
                                   str(device), seed)
    # ours gets its ground truth as training prepares it: checked on the
    # host (no check in the step), padded to its bucket when compiled
    num_classes = model_cfg['bbox_head']['num_classes']
    our_samples = copy.deepcopy(samples)
    prepare_ground_truth(our_samples, num_classes)
    steps = dict(
        mmdet=_TrainStep(mm_model, inputs, samples, amp),
        ours=_TrainStep(ours, inputs, our_samples, amp))
    if compile:
        compiled = copy.deepcopy(ours)
        compiled.compile_loss = dict(
            compile_options(True, cuda_graphs), **(compile_kwargs or {}))
        padded = copy.deepcopy(samples)
        prepare_ground_truth(padded, num_classes, pad_to_bucket=True)
        steps['compiled'] = _TrainStep(compiled, inputs, padded, amp)
    results: Dict[str, dict] = {name: {} for name in steps}
    for name, step in steps.items():
        if name == 'compiled':
            torch._dynamo.reset()
            graphs = compiled_graphs()
            clock = synced_clock(device)
            start = clock()
            step()
            results[name]['compile_s'] = clock() - start
        else:
            step.prepare_head_loss()
            results[name].update(count_ops(step.head_loss))
            results[name].update(
                graph_breaks(step.model.bbox_head, step.feats, step.samples))
            step()  # the first step's losses: same weights on all sides
        results[name]['losses'] = {
            key: float(value) for key, value in step.losses.items()
        }
        results[name]['step_syncs'] = count_ops(step)['syncs']
    runs = {(name, 'step'): step for name, step in steps.items()}
    runs.update({(name, 'head'): step.head_step
                 for name, step in steps.items() if name != 'compiled'})
    times = timed_turns(runs, num_warmup, num_iters, synced_clock(device))
    for (name, part), seconds in times.items():
        results[name][f'{part}_ms'] = 1000 * statistics.median(seconds)
    for name, step in steps.items():
        results[name]['peak_mib'] = peak_memory(step, device) / 2**20
    if compile:
        results['compiled']['graphs_compiled'] = compiled_graphs() - graphs
    results['setting'] = dict(
        device=str(device),
        device_name=(torch.cuda.get_device_name(device)
                     if device.type == 'cuda' else cpu_name()),
        amp=amp,
        num_gts=num_gts,
        shape=tuple(shape),
        num_imgs=num_imgs,
        num_iters=num_iters,
        num_threads=torch.get_num_threads(),
        cuda_graphs=compile and cuda_graphs)
    return results


def cpu_name() -> str:
    """The CPU's model name and its vector/matrix extensions (Linux)."""
    try:
        with open('/proc/cpuinfo') as f:
            match = re.search(r'^model name\s*:(.*)$', f.read(), re.MULTILINE)
    except OSError:
        match = None
    flags = cpu_flags() or set()
    extensions = [
        flag for flag in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')
        if flag in flags
    ]
    return (f'{match.group(1).strip() if match else "unknown CPU"} '
            f'({", ".join(extensions) or "no AVX2"})')


def format_train_benchmark(results: dict) -> str:
    """A :func:`benchmark_train` result as a table of ours / mmdet
    ratios."""
    setting = results['setting']
    height, width = setting['shape']
    lines = [
        f'train step, {setting["num_imgs"]} images of {height}x{width}, '
        f'{setting["num_gts"]} boxes each, '
        f'{"AMP" if setting["amp"] else "fp32"}, on {setting["device"]} '
        f'({setting["device_name"]}, {setting["num_threads"]} threads), '
        f'median of {setting["num_iters"]} steps'
    ]
    mm, ours = results['mmdet'], results['ours']
    worst = max(
        abs(ours['losses'][key] - value) / max(abs(value), 1e-12)
        for key, value in mm['losses'].items())
    lines.append('losses: ' + ', '.join(
        f'{key} {mm["losses"][key]:.6f} / {ours["losses"][key]:.6f}'
        for key in mm['losses']) + f' (mmdet / ours; largest relative '
                 f'difference {worst:.1e})')
    compiled = results.get('compiled')
    header = f'{"":<34}{"mmdet":>12}{"fcos_mm":>12}{"ratio":>8}'
    if compiled is not None:
        header += f'{"compiled":>12}{"ratio":>8}'
        lines.insert(2, 'compiled: ' + ', '.join(
            f'{key} {value:.6f}' for key, value in compiled['losses'].items())
            + (' (with CUDA graphs)' if setting.get('cuda_graphs') else ''))
    lines.append(header)
    for key, label in (('step_ms', 'train step (ms, median)'),
                       ('head_ms', '  head loss + backward (ms)'),
                       ('peak_mib', 'peak memory of a step (MiB)'),
                       ('step_syncs', 'host syncs in a train step'),
                       ('aten_calls', 'aten calls in bbox_head.loss'),
                       ('syncs', 'host syncs in bbox_head.loss'),
                       ('aten::_local_scalar_dense', '  _local_scalar_dense'),
                       ('aten::nonzero', '  nonzero'),
                       ('graph_breaks', 'graph breaks, head fwd + loss'),
                       ('graphs', '  graphs')):
        theirs, mine = mm[key], ours[key]
        spec = '>12.1f' if isinstance(theirs, float) else '>12d'
        line = (f'{label:<34}{theirs:{spec}}{mine:{spec}}'
                f'{_ratio(mine, theirs):>8}')
        if compiled is not None and key in compiled:
            line += (f'{compiled[key]:{spec}}'
                     f'{_ratio(compiled[key], theirs):>8}')
        lines.append(line)
    if compiled is not None:
        lines.append(f'compile time (first step): {compiled["compile_s"]:.1f}'
                     f' s; graphs compiled over all its steps: '
                     f'{compiled["graphs_compiled"]}')
    return '\n'.join(lines)


def _ratio(mine, theirs) -> str:
    return f'{mine / theirs:.3f}' if theirs else '-'


def multiscale_batch_shapes(image_sizes: List[Tuple[int, int]],
                            scales: List[Tuple[int, int]],
                            pad_size_divisor: int) -> set:
    """Every padded ``(H, W)`` a batch can take under mmdet's
    ``RandomChoiceResize(scales, keep_ratio=True)``, the data preprocessor's
    ``pad_size_divisor`` and ``AspectRatioBatchSampler`` (a batch is all
    landscape or all portrait; its shape the largest height and width):
    with ``dynamic=False`` each is one compile of the loss per box bucket.

    Args:
        image_sizes (list[tuple[int, int]]): ``(w, h)`` of the images.
        scales (list[tuple[int, int]]): ``(long, short)`` edge limits.
        pad_size_divisor (int): Padding multiple.
    """
    def up(size: int) -> int:
        return -(-size // pad_size_divisor) * pad_size_divisor

    groups = ({}, {})  # landscape, portrait: padded (H, W) of one image
    for width, height in image_sizes:
        for long_edge, short_edge in scales:
            # mmcv's rescale_size with keep_ratio
            factor = min(long_edge / max(width, height),
                         short_edge / min(width, height))
            shape = (up(int(height * factor + 0.5)),
                     up(int(width * factor + 0.5)))
            groups[width < height][shape] = None
    return {(max(a[0], b[0]), max(a[1], b[1]))
            for group in groups for a in group for b in group}
