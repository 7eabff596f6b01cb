"""A training step of our FCOS against mmdet 3.3's, side by side.

Both detectors are built from the same model config
(:func:`~.mmdet_twin.build_pair`, same weights) and see the same random
batch (:func:`~.harness.random_batch`); each steps through our optimizer
wrapper (:class:`~.harness.TrainStep`).
Measured per side: the losses; the median time of a training step and of
the head's loss + backward alone; the peak memory of a step
(:func:`~.harness.peak_memory`); and in ``bbox_head.loss`` the aten calls
(kernel launches on a GPU) and host-device synchronisations
(:func:`~.harness.count_ops`).
"""
import argparse
import copy
import statistics
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.structures import DetDataSample

from fcos_mm.models.detectors.fcos import compile_options
from fcos_mm.models.utils import prepare_ground_truth

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
    timed_call,
    timed_turns,
)
from .mmdet_twin import build_pair


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


class _HeadStep(TrainStep):
    """A :class:`~.harness.TrainStep` that also runs ``bbox_head.loss``
    alone, on features computed once beforehand."""

    def prepare_head_loss(self) -> None:
        with torch.no_grad(), self.context():
            self.feats = self.model.extract_feat(self.inputs)

    def head_loss(self) -> Dict[str, torch.Tensor]:
        """``bbox_head.loss`` alone (in the wrapper's autocast)."""
        with self.context():
            return self.model.bbox_head.loss(self.feats, self.samples)

    def head_step(self) -> None:
        """``bbox_head.loss`` and its backward through the head alone."""
        self.wrapper.zero_grad()
        sum(self.head_loss().values()).backward()


def _step(model: nn.Module, inputs: torch.Tensor, samples: list,
          amp: bool) -> _HeadStep:
    return _HeadStep(model, inputs, samples,
                     build_optim_wrapper(model, inputs.device, amp))


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
    timed in turns (:func:`~.harness.timed_turns`).

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
        mmdet=_step(mm_model, inputs, samples, amp),
        ours=_step(ours, inputs, our_samples, amp))
    if compile:
        compiled = copy.deepcopy(ours)
        compiled.compile_loss = dict(
            compile_options(True, cuda_graphs), **(compile_kwargs or {}))
        padded = copy.deepcopy(samples)
        prepare_ground_truth(padded, num_classes, pad_to_bucket=True)
        steps['compiled'] = _step(compiled, inputs, padded, amp)
    results: Dict[str, dict] = {name: {} for name in steps}
    for name, step in steps.items():
        if name == 'compiled':
            torch._dynamo.reset()
            graphs = compiled_graphs()
            results[name]['compile_s'] = timed_call(
                step, synced_clock(device))[1]
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
        device_name=device_name(device),
        amp=amp,
        num_gts=num_gts,
        shape=tuple(shape),
        num_imgs=num_imgs,
        num_iters=num_iters,
        num_threads=torch.get_num_threads(),
        cuda_graphs=compile and cuda_graphs)
    return results


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
    columns = [('', '<34'), ('mmdet', '>12.1f'), ('fcos_mm', '>12.1f'),
               ('ratio', '>8')]
    if compiled is not None:
        columns += [('compiled', '>12.1f'), ('ratio', '>8')]
        lines.insert(2, 'compiled: ' + ', '.join(
            f'{key} {value:.6f}' for key, value in compiled['losses'].items())
            + (' (with CUDA graphs)' if setting.get('cuda_graphs') else ''))
    rows = []
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
        row = [label, theirs, mine, ratio(mine, theirs)]
        if compiled is not None and key in compiled:
            row += [compiled[key], ratio(compiled[key], theirs)]
        rows.append(row)
    lines += format_table(columns, rows)
    if compiled is not None:
        lines.append(f'compile time (first step): {compiled["compile_s"]:.1f}'
                     f' s; graphs compiled over all its steps: '
                     f'{compiled["graphs_compiled"]}')
    return '\n'.join(lines)


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


def add_train_step_args(parser: argparse.ArgumentParser) -> None:
    """The options of the training-step benchmarks (``benchmark_train.py``,
    ``benchmark_guard.py``): config, device, AMP, the random batch, how
    many steps, threads and ``--cfg-options``."""
    from fcos_mm.utils.tool_args import add_cfg_options
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--device', default='cpu', help='cpu or cuda (or cuda:N)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: fp16 + loss scaling on CUDA, bf16 on CPU')
    parser.add_argument(
        '--gts', type=int, default=30, help='boxes per image')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[800, 1216],
        metavar=('H', 'W'),
        help='input height and width')
    parser.add_argument('--batch', type=int, default=2, help='images')
    parser.add_argument(
        '--iters', type=int, default=10, help='timed steps per side')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed steps per side')
    parser.add_argument(
        '--num-threads',
        type=int,
        default=None,
        help='torch intra-op CPU threads (default: torch\'s choice)')
    add_cfg_options(parser, 'model.bbox_head.num_classes=20')


def train_step_setup(args: argparse.Namespace):
    """What both training-step tools do with :func:`add_train_step_args`'
    options: set the threads, load and override the config, register our
    modules.

    Returns:
        tuple[Config, dict]: The config and the keyword arguments of the
        benchmark's random batch and timing (``device``, ``amp``,
        ``num_gts``, ``shape``, ``num_imgs``, ``num_iters``,
        ``num_warmup``).
    """
    from fcos_mm.utils import register_all_modules
    from fcos_mm.utils.tool_args import load_tool_config
    if args.num_threads is not None:
        torch.set_num_threads(args.num_threads)
    cfg = load_tool_config(args)
    register_all_modules()  # and the default scope
    return cfg, dict(
        device=args.device,
        amp=args.amp,
        num_gts=args.gts,
        shape=tuple(args.shape),
        num_imgs=args.batch,
        num_iters=args.iters,
        num_warmup=args.warmup)
