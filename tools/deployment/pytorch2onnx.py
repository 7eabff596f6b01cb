"""Export an FCOS checkpoint to ONNX, post-processing (top-k, decoding,
NMS) included, and check it against PyTorch in onnxruntime.

Example::

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --out model.onnx --dynamic

The graph maps ``input`` (N, 3, H, W) (normalised, padded) and
``img_shapes`` (N, 2) (each image's height and width inside the batch) to
``dets`` (N, max_per_img, 5) (x1, y1, x2, y2, score) and ``labels``
(N, max_per_img); padding rows have score 0 and label -1. See
docs/deployment.md.
"""
import argparse

from fcos_mm.apis import init_detector
from fcos_mm.deployment import OPSETS, export_onnx
from fcos_mm.deployment.onnx_export import (
    default_export_shape,
    verification_inputs,
    verify_onnx,
)
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint', help='checkpoint file ("none": random weights)')
    parser.add_argument('--out', default='model.onnx', help='ONNX file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: what the test pipeline '
        'resizes into, padded; the fixed input shape unless --dynamic)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='batch (static models)')
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='dynamic batch, height and width')
    parser.add_argument(
        '--opset',
        type=int,
        default=11,
        choices=OPSETS,
        help='ONNX opset (default 11)')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='do not compare onnxruntime with PyTorch after export')
    parser.add_argument(
        '--verify-image',
        help='image to compare on (default: random input of --shape)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    model = init_detector(load_tool_config(args), checkpoint, device='cpu')
    shape = tuple(args.shape) if args.shape else default_export_shape(
        model.cfg)
    export_onnx(
        model,
        args.out,
        shape=shape,
        batch_size=args.batch_size,
        dynamic=args.dynamic,
        opset=args.opset)
    kind = 'dynamic batch/height/width' if args.dynamic else (
        f'static {args.batch_size}x3x{shape[0]}x{shape[1]}')
    print(f'wrote {args.out} (opset {args.opset}, {kind}); onnx.checker: ok')
    if args.no_verify:
        return
    inputs, img_shapes = verification_inputs(model, shape, args.verify_image)
    diff = verify_onnx(model, args.out, inputs, img_shapes)
    print(f'onnxruntime vs PyTorch on {args.verify_image or "random input"}'
          f' ({inputs.shape[-2]}x{inputs.shape[-1]}): '
          f'{diff["detections"]} PyTorch detections, '
          f'{diff["count_diff"]} image(s) with another count, '
          f'{diff["label_mismatch"]} label mismatches, '
          f'max |box diff| {diff["max_box_diff"]:.2e} px, '
          f'max |score diff| {diff["max_score_diff"]:.2e}')


if __name__ == '__main__':
    main()
