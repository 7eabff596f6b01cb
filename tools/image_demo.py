"""Detect objects in an image or a folder of images and draw the results.

Example::

    python tools/image_demo.py data/synthetic/val/000000.png \
        configs/demo/fcos_demo.py work_dirs/fcos_demo/epoch_12.pth \
        --out-dir outputs --score-thr 0.3
"""
import argparse

from fcos_mm.apis import (
    detections_above,
    draw_detections,
    inference_detector,
    init_detector,
    list_images,
)
from fcos_mm.deployment.cpu_inference import PRECISIONS
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('img', help='an image file or a folder of images')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or an exported .onnx / OpenVINO model.xml')
    parser.add_argument(
        '--out-dir', default='outputs', help='folder for the drawn images')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--precision',
        default='auto',
        choices=PRECISIONS,
        help='OpenVINO models: auto (bf16 where the CPU has bf16 units, '
        'else f32), f32 or bf16')
    parser.add_argument(
        '--score-thr', type=float, default=0.3, help='box score threshold')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    images = list_images(args.img)
    model = init_detector(
        load_tool_config(args),
        args.checkpoint,
        device=args.device,
        precision=args.precision)
    results = [inference_detector(model, path) for path in images]
    written = draw_detections(
        model, images, args.out_dir, args.score_thr, results=results)
    classes = model.dataset_meta.get('classes')
    for path, out_file, result in zip(images, written, results):
        boxes = detections_above(result, args.score_thr, classes)
        print(f'{path}: {len(boxes)} boxes -> {out_file}')
        for box in boxes:
            x1, y1, x2, y2 = box['bbox']
            print(f'  {box["class"]:<16} {box["score"]:.3f} '
                  f'({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f})')


if __name__ == '__main__':
    main()
