"""What the non-finite step guard costs: a training step with it on vs off.

Builds CONFIG's model twice (same weights), steps both through our optimizer
wrapper (guard off / on) in turns on one random batch, and prints the
median step time, peak memory and host syncs per step, with on / off
ratios, naming the device.

Example::

    python tools/analysis_tools/benchmark_guard.py CONFIG --device cuda --amp
"""
import argparse

import torch
from mmengine.config import Config

from fcos_mm.analysis.guard_benchmark import (
    benchmark_guard,
    format_guard_benchmark,
)
from fcos_mm.analysis.side_by_side import add_train_step_args
from fcos_mm.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_step_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.num_threads is not None:
        torch.set_num_threads(args.num_threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    results = benchmark_guard(
        cfg.model.to_dict(),
        device=args.device,
        amp=args.amp,
        num_gts=args.gts,
        shape=tuple(args.shape),
        num_imgs=args.batch,
        num_iters=args.iters,
        num_warmup=args.warmup,
        clip_grad=(cfg.optim_wrapper.get('clip_grad') or None))
    print(format_guard_benchmark(results))


if __name__ == '__main__':
    main()
