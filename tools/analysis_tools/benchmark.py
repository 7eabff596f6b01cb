"""Inference speed of a detector: images/s and time per stage.

Times the backbone, neck, head forward and post-processing on random input
of a fixed size, after warm-up. Random weights unless a checkpoint is given
(with random weights almost no box survives the score threshold, so
post-processing is faster than with trained weights).

Example::

    python tools/analysis_tools/benchmark.py configs/fcos_r50_fpn_1x_coco.py \
        --shape 800 1344 --num-images 20 --device cpu
"""
import argparse

import torch
from mmengine.config import DictAction

from fcos_mm.analysis import benchmark_detector, format_benchmark
from fcos_mm.apis import init_detector


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--checkpoint', default=None, help='checkpoint (default: random)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[800, 1344],
        help='input height and width (one number: square)')
    parser.add_argument(
        '--num-images', type=int, default=20, help='timed images')
    parser.add_argument(
        '--num-warmup', type=int, default=5, help='untimed images first')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--num-threads',
        type=int,
        default=None,
        help='torch intra-op CPU threads (default: torch\'s choice); on a '
        'shared machine 1 avoids oversubscription, which can cost 10x')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.shape) not in (1, 2):
        raise ValueError(f'--shape takes 1 or 2 numbers, got {args.shape}.')
    shape = (args.shape[0], args.shape[-1])
    if args.num_threads is not None:
        torch.set_num_threads(args.num_threads)
    model = init_detector(
        args.config,
        args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options)
    result = benchmark_detector(model, shape, args.num_images,
                                args.num_warmup)
    print(format_benchmark(result))


if __name__ == '__main__':
    main()
