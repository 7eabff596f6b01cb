"""What the non-finite step guard costs: a training step with it on vs off.

Builds CONFIG's model twice (same weights), steps both through our optimizer
wrapper (guard off / on) in turns on one random batch, and prints the
median step time, peak memory and host syncs per step, with on / off
ratios, naming the device.

Example::

    python tools/analysis_tools/benchmark_guard.py CONFIG --device cuda --amp
"""
import argparse

from fcos_mm.benchmarks.benchmark_guard import (
    benchmark_guard,
    format_guard_benchmark,
)
from fcos_mm.benchmarks.benchmark_train import (
    add_train_step_args,
    train_step_setup,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_step_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg, batch = train_step_setup(args)
    results = benchmark_guard(
        cfg.model.to_dict(),
        **batch,
        clip_grad=(cfg.optim_wrapper.get('clip_grad') or None))
    print(format_guard_benchmark(results))


if __name__ == '__main__':
    main()
