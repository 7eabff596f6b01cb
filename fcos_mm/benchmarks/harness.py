"""What every benchmark shares: the clock, the timing loop, op and sync
counts, peak memory, the machine's name, random inputs, one training step
and one table formatter.

The clock is :mod:`fcos_mm.utils.stopwatch`'s (the one place of
``fcos_mm`` that reads the clock); :func:`timed_call` and
:func:`timed_turns`, the one timing loop, read it after waiting for queued
CUDA work.
"""
import copy
import math
import os
import re
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
)

import torch
import torch.nn as nn

from fcos_mm.utils.stopwatch import now

#: The profiler events that are host-device synchronisations on a GPU:
#: every ``.item()``, ``bool(t)``, ``int(t)``, and ``nonzero`` (its size).
SYNC_OPS = ('aten::_local_scalar_dense', 'aten::nonzero')


# ---------------------------------------------------------------- clock
def synchronize(device: torch.device) -> None:
    """Wait for the queued CUDA work on ``device`` (nothing on CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def synced_clock(device: torch.device) -> Callable[[], float]:
    """A clock in seconds that first waits for queued CUDA work on
    ``device``."""

    def synced_now() -> float:
        synchronize(device)
        return now()

    return synced_now


def timed_call(fn: Callable[[], Any],
               clock: Optional[Callable[[], float]] = None
               ) -> Tuple[Any, float]:
    """``fn()``'s result and the seconds it took by ``clock`` (default:
    :func:`~fcos_mm.utils.stopwatch.now`, host work only)."""
    clock = clock or now
    start = clock()
    result = fn()
    return result, clock() - start


def timed_turns(runs: Dict[Any, Callable],
                num_warmup: int,
                num_iters: int,
                clock: Optional[Callable[[], float]] = None,
                setup: Optional[Dict[Any, Callable[[], Any]]] = None,
                budget_s: Optional[float] = None) -> Dict[Any, List[float]]:
    """Seconds of each of ``num_iters`` timed calls per run, after
    ``num_warmup`` untimed ones; the runs take turns, so that a drift of the
    machine's speed hits all alike.

    Args:
        runs (dict): Name to a function of no argument, or of what its
            ``setup`` returns.
        num_warmup (int): Untimed turns first.
        num_iters (int): Timed turns.
        clock (callable, optional): See :func:`timed_call`; pass
            :func:`synced_clock` for a device.
        setup (dict, optional): Name to an untimed function called before
            each call of that run; its result is the run's argument.
        budget_s (float, optional): Stop before a timed turn once the timed
            seconds of all runs add up to this.

    Returns:
        dict: Name to its list of seconds (shorter than ``num_iters`` when
        the budget ran out).
    """
    seconds = {name: [] for name in runs}
    setup = setup or {}
    for iteration in range(num_warmup + num_iters):
        timed = iteration >= num_warmup
        if timed and budget_s is not None and sum(
                map(sum, seconds.values())) >= budget_s:
            break
        for name, run in runs.items():
            if name in setup:
                argument = setup[name]()
                _, elapsed = timed_call(lambda: run(argument), clock)
            else:
                _, elapsed = timed_call(run, clock)
            if timed:
                seconds[name].append(elapsed)
    return seconds


def interleaved_rounds(runs: Dict[Any, Callable[[int], Any]],
                       rounds: int) -> Dict[Any, list]:
    """Longer runs in turns: ``rounds`` times each ``run(round_index)``,
    the runs alternating, so that a change of the machine's load hits all
    alike. Returns each run's list of results."""
    results = {name: [] for name in runs}
    for index in range(rounds):
        for name, run in runs.items():
            results[name].append(run(index))
    return results


# ------------------------------------------------------- ops and memory
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


# -------------------------------------------------------------- machine
def cpu_name(cpuinfo: str = '/proc/cpuinfo') -> str:
    """``'<model name>, N logical cores, ISA: AMX, AVX512-BF16, ...'``
    (Linux; what decides bf16 and int8 speed on a CPU)."""
    from fcos_mm.deployment.cpu_inference import cpu_flags
    name = 'unknown CPU'
    try:
        with open(cpuinfo) as f:
            match = re.search(r'^model name\s*:(.*)$', f.read(), re.MULTILINE)
        name = match.group(1).strip() if match else name
    except OSError:
        pass
    flags = cpu_flags(cpuinfo) or set()
    isa = [
        label for flag, label in (('amx_bf16', 'AMX'),
                                  ('avx512_bf16', 'AVX512-BF16'),
                                  ('avx512_vnni', 'AVX512-VNNI'),
                                  ('avx512f', 'AVX-512'), ('avx2', 'AVX2'))
        if flag in flags
    ]
    return (f'{name}, {os.cpu_count()} logical cores, ISA: '
            f'{", ".join(isa) or "none of AMX/AVX-512/AVX2"}')


def device_name(device: torch.device) -> str:
    """The GPU's name, or :func:`cpu_name` on CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return cpu_name()


# -------------------------------------------------------- random inputs
def random_boxes(num: int,
                 shape: Tuple[int, int],
                 generator: torch.Generator,
                 min_side: float = 8.0,
                 max_side: Optional[float] = None,
                 spread: str = 'square') -> torch.Tensor:
    """``(num, 4)`` float32 xyxy boxes inside a ``shape = (H, W)`` image.

    Args:
        num (int): Boxes.
        shape (tuple[int, int]): Image (height, width).
        generator (torch.Generator): The random stream.
        min_side (float): Smallest side. Defaults to 8.
        max_side (float, optional): With ``spread='log'``, the largest side
            (clipped to the image); default the image's longer side.
        spread (str): ``'square'``: sides ``min_side + u**2 * (size -
            min_side)``, mostly small; ``'log'``: log-uniform from
            ``min_side`` to ``max_side``, COCO's three size ranges alike.
    """
    height, width = shape
    size = torch.tensor([width, height], dtype=torch.float32)
    uniform = torch.rand(num, 2, generator=generator)
    if spread == 'square':
        wh = min_side + uniform**2 * (size - min_side)
    elif spread == 'log':
        top = float(max_side or max(height, width))
        wh = torch.minimum(
            min_side * (uniform * math.log(top / min_side)).exp(), size)
    else:
        raise ValueError(f"spread must be 'square' or 'log', got {spread!r}")
    xy = torch.rand(num, 2, generator=generator) * (size - wh)
    return torch.cat([xy, xy + wh], 1)


def random_batch(num_imgs: int,
                 shape: Tuple[int, int],
                 num_gts: int,
                 num_classes: int,
                 device: str = 'cpu',
                 seed: int = 0) -> Tuple[torch.Tensor, list]:
    """``(N, 3, H, W)`` random inputs of ``shape`` and ``N`` data samples
    (``DetDataSample``) with ``num_gts`` :func:`random_boxes` each (sides
    from 8 pixels, mostly small), labels in ``[0, num_classes)``."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    generator = torch.Generator().manual_seed(seed)
    height, width = shape
    inputs = torch.randn(num_imgs, 3, height, width, generator=generator)
    samples = []
    for img_id in range(num_imgs):
        boxes = random_boxes(num_gts, shape, generator)
        sample = DetDataSample(
            metainfo=dict(
                img_id=img_id,
                img_shape=shape,
                ori_shape=shape,
                pad_shape=shape,
                batch_input_shape=shape,
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=boxes.to(device),
            labels=torch.randint(
                0, num_classes, (num_gts, ), generator=generator).to(device))
        samples.append(sample)
    return inputs.to(device), samples


# ----------------------------------------------------------- train step
def build_optim_wrapper(model: nn.Module,
                        device: torch.device,
                        amp: bool = False,
                        clip_grad: Optional[dict] = None,
                        guard: bool = False,
                        weight_decay: float = 0.0):
    """SGD (lr 1e-4, momentum 0.9) in our optimizer wrapper as training
    builds it: fp16 AMP with a dynamic loss scale on CUDA or bf16 autocast
    on CPU when ``amp``; the step guard on when ``guard``."""
    from fcos_mm.engine.optim_wrappers import (
        AmpOptimWrapper,
        AutocastOptimWrapper,
        OptimWrapper,
    )
    device = torch.device(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-4, momentum=0.9, weight_decay=weight_decay)
    kwargs = dict(optimizer=optimizer, clip_grad=copy.deepcopy(clip_grad))
    if amp and device.type == 'cuda':
        wrapper = AmpOptimWrapper(loss_scale='dynamic', **kwargs)
    elif amp:
        wrapper = AutocastOptimWrapper(device_type=device.type, **kwargs)
    else:
        wrapper = OptimWrapper(**kwargs)
    wrapper.enable_step_guard(guard)
    return wrapper


class TrainStep:
    """One training step of a detector on a fixed batch, through an
    optimizer wrapper (:func:`build_optim_wrapper`): forward and loss in
    its context (autocast under AMP), then ``update_params``.

    Args:
        model (nn.Module): The detector, on the batch's device.
        inputs (Tensor): ``(N, 3, H, W)`` images.
        samples (list[DetDataSample]): Their ground truth.
        wrapper: The optimizer wrapper of ``model``.

    Attributes:
        losses (dict[str, Tensor]): The last step's losses, detached.
    """

    def __init__(self, model: nn.Module, inputs: torch.Tensor,
                 samples: list, wrapper) -> None:
        self.model = model
        self.inputs = inputs
        self.samples = samples
        self.wrapper = wrapper
        self.losses: Dict[str, torch.Tensor] = {}

    def context(self):
        """The wrapper's context: where forward and loss run."""
        return self.wrapper.optim_context(self.model)

    def __call__(self) -> None:
        self.wrapper.zero_grad()  # from no gradients, whatever ran before
        with self.context():
            losses = self.model(self.inputs, self.samples, mode='loss')
        self.wrapper.update_params(sum(losses.values()))
        self.losses = {key: value.detach() for key, value in losses.items()}


# ---------------------------------------------------------------- table
def _cell(value, spec: str) -> str:
    """``value`` by ``spec`` (a format spec such as ``'>12.2f'``); a str
    and an int take the spec's alignment and width only."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        align_width = re.match(r'[<>^]?\d*', spec).group(0)
        if isinstance(value, int) and spec[-1:] in 'fdeg%':
            return format(value, align_width + 'd')
        return format(str(value), align_width)
    return format(value, spec)


def format_table(columns: Sequence[Tuple[str, str]],
                 rows: Iterable[Sequence],
                 sep: str = '') -> List[str]:
    """A header line and one line per row.

    Args:
        columns (list[tuple[str, str]]): ``(title, spec)`` per column, e.g.
            ``('stage', '<12')``, ``('ms / image', '>12.2f')``; a title
            takes its spec's alignment and width.
        rows (iterable): Cells per row: a float by its column's spec, an
            int as an integer, a str (a ratio already written, ``'-'``) as
            it is, each aligned to its column.
        sep (str): Between cells. Defaults to ''.

    Returns:
        list[str]: The lines (the caller joins them).
    """
    lines = [sep.join(_cell(title, spec) for title, spec in columns)]
    for row in rows:
        lines.append(sep.join(
            _cell(value, spec) for value, (_, spec) in zip(row, columns)))
    return lines


def ratio(mine, theirs, digits: int = 3) -> str:
    """``mine / theirs`` with ``digits`` decimals, ``'-'`` when
    ``theirs`` is 0."""
    return f'{mine / theirs:.{digits}f}' if theirs else '-'
