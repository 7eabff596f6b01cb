"""What the inference and training benchmarks share: a clock that waits for
queued CUDA work, runs that take turns, a random batch, and mmdet's config of
our FCOS."""
import argparse
import copy
import time
from typing import Any, Callable, Dict, List, Tuple

import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from fcos_mm.models.dense_heads.fcos_head_compat import ASSIGNER_KWARGS


def synchronize(device: torch.device) -> None:
    """Wait for the queued CUDA work on ``device`` (nothing on CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def synced_clock(device: torch.device) -> Callable[[], float]:
    """A clock that first waits for queued CUDA work on ``device``."""

    def now() -> float:
        synchronize(device)
        return time.perf_counter()

    return now


def timed_turns(runs: Dict[Any, Callable[[], object]], num_warmup: int,
                num_iters: int,
                clock: Callable[[], float]) -> Dict[Any, List[float]]:
    """Seconds of each of ``num_iters`` timed calls per run, after
    ``num_warmup`` untimed ones; the runs take turns, so that a drift of the
    machine's speed hits all alike."""
    seconds = {name: [] for name in runs}
    for iteration in range(num_warmup + num_iters):
        for name, run in runs.items():
            start = clock()
            run()
            elapsed = clock() - start
            if iteration >= num_warmup:
                seconds[name].append(elapsed)
    return seconds


def random_batch(num_imgs: int,
                 shape: Tuple[int, int],
                 num_gts: int,
                 num_classes: int,
                 device: str = 'cpu',
                 seed: int = 0) -> Tuple[torch.Tensor, List[DetDataSample]]:
    """``(N, 3, H, W)`` random inputs of ``shape`` and ``N`` data samples
    with ``num_gts`` random boxes inside the image, sides from 8 pixels up
    (squared uniform: mostly small), labels in ``[0, num_classes)``."""
    generator = torch.Generator().manual_seed(seed)
    height, width = shape
    inputs = torch.randn(num_imgs, 3, height, width, generator=generator)
    samples = []
    size = torch.tensor([width, height], dtype=torch.float32)
    for img_id in range(num_imgs):
        wh = 8 + torch.rand(num_gts, 2, generator=generator)**2 * (size - 8)
        xy = torch.rand(num_gts, 2, generator=generator) * (size - wh)
        sample = DetDataSample(
            metainfo=dict(
                img_id=img_id,
                img_shape=shape,
                ori_shape=shape,
                pad_shape=shape,
                batch_input_shape=shape,
                scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1).to(device),
            labels=torch.randint(
                0, num_classes, (num_gts, ), generator=generator).to(device))
        samples.append(sample)
    return inputs.to(device), samples


def mmdet_model_cfg(model_cfg: dict) -> ConfigDict:
    """The mmdet 3.3 config (scope ``mmdet``) of the same FCOS as our
    ``model`` config: the assigner's options go back to the head."""
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    assigner = (cfg.get('train_cfg') or {}).get('assigner') or {}
    for key in ASSIGNER_KWARGS:
        if key in assigner:
            cfg.bbox_head[key] = assigner[key]
    cfg.train_cfg = None
    return cfg


def add_train_step_args(parser: argparse.ArgumentParser) -> None:
    """The options of the training-step benchmarks (``benchmark_train.py``,
    ``benchmark_guard.py``): config, device, AMP, the random batch, how
    many steps, threads and ``--cfg-options``."""
    from mmengine.config import DictAction
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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')


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
    import torch
    from mmengine.config import Config

    from fcos_mm.utils import register_all_modules
    if args.num_threads is not None:
        torch.set_num_threads(args.num_threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    return cfg, dict(
        device=args.device,
        amp=args.amp,
        num_gts=args.gts,
        shape=tuple(args.shape),
        num_imgs=args.batch,
        num_iters=args.iters,
        num_warmup=args.warmup)
