"""Export an FCOS checkpoint for CPU deployment: ONNX (onnxruntime) or
OpenVINO (``DIR/model.xml`` + ``.bin``), post-processing inside, optionally
int8 (OpenVINO, NNCF post-training quantisation).

Examples::

    python tools/deployment/export.py CONFIG CKPT --format openvino \
        --out DIR [--dynamic]
    python tools/deployment/export.py CONFIG CKPT --format openvino \
        --out DIR --int8 --calib-images 300

A float export is compared with PyTorch on one input; an int8 export
prints the bbox mAP of the float and the int8 model on the val set and
warns when int8 loses more than --max-map-drop AP points. The model then
runs in ``init_detector(CONFIG, 'DIR/model.xml')``, ``tools/test.py`` and
``tools/image_demo.py``. See docs/deployment.md.
"""
import argparse
import warnings

from fcos_mm.apis import init_detector
from fcos_mm.deployment import OPSETS, PRECISIONS
from fcos_mm.deployment.export import FORMATS, export_detector
from fcos_mm.deployment.onnx_export import (
    compare_detections,
    default_export_shape,
    pytorch_detections,
    verification_inputs,
)
from fcos_mm.engine.exported_eval import MAX_MAP_DROP, int8_map_report
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint', help='checkpoint file ("none": random weights)')
    parser.add_argument(
        '--format', default='openvino', choices=list(FORMATS),
        help='onnx (model.onnx) or openvino (model.xml + model.bin)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='input height and width (default: what the test pipeline '
        'resizes into, padded; the fixed input shape unless --dynamic)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='batch (static models)')
    parser.add_argument(
        '--dynamic', action='store_true',
        help='dynamic batch, height and width')
    parser.add_argument(
        '--opset', type=int, default=11, choices=OPSETS,
        help='ONNX opset (default 11)')
    parser.add_argument(
        '--int8', action='store_true',
        help='OpenVINO: NNCF post-training int8 quantisation')
    parser.add_argument(
        '--calib-images', type=int, default=300,
        help='--int8: val (else train) images to calibrate on')
    parser.add_argument(
        '--max-map-drop', type=float, default=MAX_MAP_DROP,
        help='--int8: warn when int8 loses more AP points than this')
    parser.add_argument(
        '--precision', default='auto', choices=PRECISIONS,
        help='OpenVINO precision of the checks (auto: bf16 where the CPU '
        'has bf16 units, else f32)')
    parser.add_argument(
        '--no-verify', action='store_true',
        help='skip the comparison with PyTorch / the mAP of int8')
    parser.add_argument(
        '--verify-image',
        help='image to compare on (default: random input of --shape)')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.int8 and args.format != 'openvino':
        parser.error('--int8 needs --format openvino')
    if args.calib_images < 1:
        parser.error(f'--calib-images must be >= 1, got {args.calib_images}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    cfg = load_tool_config(args)
    model = init_detector(cfg, checkpoint, device='cpu')
    shape = tuple(args.shape) if args.shape else default_export_shape(
        model.cfg)
    out_file = export_detector(
        model, args.format, args.out, shape,
        batch_size=args.batch_size, dynamic=args.dynamic, opset=args.opset,
        calib_images=args.calib_images if args.int8 else None)
    kind = 'dynamic batch/height/width' if args.dynamic else (
        f'static {args.batch_size}x3x{shape[0]}x{shape[1]}')
    print(f'wrote {out_file} ({args.format}{" int8" if args.int8 else ""},'
          f' {kind})', flush=True)
    if args.no_verify:
        return
    if args.int8:
        report = int8_map_report(model, out_file, shape, args.dynamic,
                                 args.precision, args.max_map_drop)
        print(f'bbox mAP on the val set: fp {report["fp_map"]:.3f}, int8 '
              f'{report["int8_map"]:.3f} (drop {report["drop"]:.1f} AP '
              'points)', flush=True)
        if report['warning']:
            warnings.warn(report['warning'])
            print(report['warning'], flush=True)
        return
    runtime = init_detector(cfg, out_file, precision=args.precision)
    inputs, img_shapes = verification_inputs(model, shape, args.verify_image)
    inputs = runtime._pad_to_static(inputs.float())
    dets, labels = runtime.run(inputs, img_shapes)
    diff = compare_detections(
        pytorch_detections(model, inputs, img_shapes), dets, labels)
    print(f'{args.format} ({getattr(runtime, "precision", "f32")}) vs '
          f'PyTorch on {args.verify_image or "random input"} '
          f'({inputs.shape[-2]}x{inputs.shape[-1]}): '
          f'{diff["detections"]} PyTorch detections, '
          f'{diff["count_diff"]} image(s) with another count, '
          f'{diff["label_mismatch"]} label mismatches, '
          f'max |box diff| {diff["max_box_diff"]:.2e} px, '
          f'max |score diff| {diff["max_score_diff"]:.2e}')


if __name__ == '__main__':
    main()
