"""Parameters and FLOPs of a detector for one input size.

Counted by ``mmengine.analysis.get_model_complexity_info`` over backbone,
neck and head (post-processing excluded); one multiply-add counts as one
FLOP, i.e. the numbers are MACs. No weights are loaded or downloaded.

Example::

    python tools/analysis_tools/get_flops.py configs/fcos_r50_fpn_1x_coco.py \
        --shape 800 1333
"""
import argparse
import math

from fcos_mm.apis import init_detector
from fcos_mm.benchmarks.get_flops import model_complexity
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[800, 1333],
        help='input height and width (one number: square)')
    parser.add_argument(
        '--size-divisor',
        type=int,
        default=32,
        help='pad the shape up to a multiple of this, as the data '
        'preprocessor does (0: no padding)')
    parser.add_argument(
        '--show-table', action='store_true', help='print per-module counts')
    add_cfg_options(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.shape) not in (1, 2):
        raise ValueError(f'--shape takes 1 or 2 numbers, got {args.shape}.')
    shape = (args.shape[0], args.shape[-1])
    if args.size_divisor > 0:
        shape = tuple(
            math.ceil(s / args.size_divisor) * args.size_divisor
            for s in shape)
    model = init_detector(load_tool_config(args))
    info = model_complexity(model, shape, show_table=args.show_table)
    if args.show_table:
        print(info['table'])
    asked = (args.shape[0], args.shape[-1])
    padded = f' (padded from {asked[0]}x{asked[1]})' if shape != asked else ''
    print(f'Input shape: {shape[0]}x{shape[1]}{padded}')
    print(f'Flops (multiply-adds): {info["flops_str"]} '
          f'({info["flops"] / 1e9:.2f} G)')
    print(f'Params: {info["params_str"]} ({info["params"]:,})')


if __name__ == '__main__':
    main()
