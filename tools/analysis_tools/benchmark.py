"""Inference speed of a detector: images/s and time per stage.

Times the backbone, neck, head forward and post-processing on random input
of a fixed size, after warm-up. Random weights unless a checkpoint is given
(with random weights almost no box survives the score threshold, so
post-processing is faster than with trained weights).

Variants, timed one after the other in the same run on the same input and
threads, with ratios printed at the end:

* ``--backend pytorch`` (default): our FCOS, fp32 eager;
* ``--amp``: our FCOS prepared for fast CPU inference (BatchNorm folded;
  bf16 autocast + channels_last only where the CPU has bf16 matrix units,
  else fp32 with a note why);
* ``--backend onnxruntime``: the model exported (static shape) to a
  temporary ONNX file, or ``--onnx FILE``, in onnxruntime;
* ``--compare-mmdet``: mmdet 3.3's FCOS built from the same config with the
  same weights, fp32 eager.

``--subprocess BACKEND ...`` instead times each backend in its own process
(one after another, median of --num-images after --num-warmup; see
fcos_mm/benchmarks/subprocess_runner.py): the honest comparison, as
runtimes interleaved in one process starve each other's threads.

Example::

    python tools/analysis_tools/benchmark.py configs/fcos_r50_fpn_1x_coco.py \
        --shape 800 1344 --num-images 2 --num-warmup 1 --rounds 3 \
        --num-threads 2 --backend pytorch onnxruntime --amp --compare-mmdet
"""
import argparse

from fcos_mm.benchmarks.benchmark import benchmark_config
from fcos_mm.benchmarks.subprocess_runner import (
    BACKENDS,
    benchmark_backends,
    format_rows,
)
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


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
        '--rounds',
        type=int,
        default=1,
        help='rounds of --num-images per variant, the variants interleaved '
        '(evens out a changing machine load)')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--num-threads',
        type=int,
        default=None,
        help='torch intra-op CPU threads (default: torch\'s choice; also '
        'given to onnxruntime); on a shared machine 1 avoids '
        'oversubscription, which can cost 10x')
    parser.add_argument(
        '--backend',
        nargs='+',
        choices=['pytorch', 'onnxruntime'],
        default=['pytorch'],
        help='what to time: our PyTorch model (fp32 eager) and/or its ONNX '
        'export in onnxruntime')
    parser.add_argument(
        '--onnx', help='exported model for onnxruntime (default: export)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='also time the fast CPU path (bf16 where the CPU has bf16 '
        'matrix units)')
    parser.add_argument(
        '--compare-mmdet',
        action='store_true',
        help="also time mmdet 3.3's FCOS (fp32 eager, same weights)")
    parser.add_argument(
        '--subprocess',
        nargs='+',
        choices=BACKENDS,
        metavar='BACKEND',
        help=f'time each backend in its own process: {", ".join(BACKENDS)}')
    add_cfg_options(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.shape) not in (1, 2):
        raise ValueError(f'--shape takes 1 or 2 numbers, got {args.shape}.')
    shape = (args.shape[0], args.shape[-1])
    if args.subprocess:
        print(format_rows(benchmark_backends(
            args.config, args.checkpoint, args.subprocess, shape,
            args.num_warmup, args.num_images, args.num_threads)))
        return
    benchmark_config(
        load_tool_config(args), shape,
        args.checkpoint, args.device, args.backend, args.onnx, args.amp,
        args.compare_mmdet, args.rounds, args.num_images, args.num_warmup,
        args.num_threads)


if __name__ == '__main__':
    main()
