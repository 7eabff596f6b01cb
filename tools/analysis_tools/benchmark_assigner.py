"""Benchmark FCOSPointAssigner against mmdet's FCOSHead.get_targets.

Both sides assign the same random boxes on the points of a padded
``height x width`` batch for several box counts, each measurement in its own
subprocess (clean peak RSS); prints a table and a pass/fail line against the
goals (extra peak memory at most 1/8 of mmdet's and time at most 1/2, at the
goal box counts). See ``fcos_mm/benchmarks/benchmark_assigner.py``.

Example::

    python tools/analysis_tools/benchmark_assigner.py
    python tools/analysis_tools/benchmark_assigner.py --boxes 50 300 \\
        --no-center-sampling
"""
import argparse
import sys
from typing import List

from fcos_mm.benchmarks.benchmark_assigner import benchmark_assigner


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Peak memory and time of FCOSPointAssigner vs mmdet '
        'FCOSHead.get_targets, and equality of their targets')
    parser.add_argument('--boxes', type=int, nargs='+',
                        default=[50, 300, 1000],
                        help='box counts per image to measure')
    parser.add_argument('--goal-boxes', type=int, nargs='*',
                        default=[300, 1000],
                        help='box counts at which the goals must hold')
    parser.add_argument('--images', type=int, default=2)
    parser.add_argument('--height', type=int, default=800)
    parser.add_argument('--width', type=int, default=1344)
    parser.add_argument('--no-center-sampling', action='store_true',
                        help='turn centre sampling off (on by default)')
    parser.add_argument('--radius', type=float, default=1.5,
                        help='center_sample_radius')
    parser.add_argument('--max-pairs', type=int, default=None,
                        help="our assigner's max_pairs (default: its own)")
    parser.add_argument('--repeat', type=int, default=3,
                        help='most timed runs per measurement (the fastest '
                        'counts); stops after 2 s of runs')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads on both sides')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-warmup', action='store_true',
                        help='measure a cold first call (lazy kernel and '
                        'allocator set-up count as extra memory)')
    parser.add_argument('--memory-goal', type=float, default=1 / 8)
    parser.add_argument('--time-goal', type=float, default=1 / 2)
    return parser.parse_args(argv)


def main(argv: List[str] = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit('--repeat must be at least 1')
    ok = benchmark_assigner(
        args.boxes, args.goal_boxes, args.memory_goal, args.time_goal,
        images=args.images, height=args.height, width=args.width,
        center_sampling=not args.no_center_sampling, radius=args.radius,
        max_pairs=args.max_pairs, repeat=args.repeat, threads=args.threads,
        seed=args.seed, warmup=not args.no_warmup)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
