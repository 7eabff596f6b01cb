"""COCO evaluation backends side by side: pycocotools vs faster-coco-eval.

Times our ``CocoMetric.compute_metrics`` with each backend on a synthetic
validation set (by default 5000 images, ~7 boxes and 100 detections each)
and prints the times, the ratio and whether the 12 numbers agree::

    python tools/analysis_tools/benchmark_eval.py [--num-images 5000]
        [--rounds 1] [--backends pycocotools faster_coco_eval]
        [--report [--out DIR]]

With ``--report`` it times the whole evaluation report instead (evaluator,
matching pass, every section, FCOS diagnostics, files; no inference).

See ``fcos_mm/benchmarks/benchmark_eval.py``.
"""
import argparse

from fcos_mm.benchmarks.benchmark_eval import (
    benchmark_backends,
    benchmark_report,
    format_backend_benchmark,
    format_report_benchmark,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=5000)
    parser.add_argument('--boxes-per-image', type=int, default=7)
    parser.add_argument('--detections-per-image', type=int, default=100)
    parser.add_argument('--rounds', type=int, default=1,
                        help='turns per backend; the best time is kept')
    parser.add_argument(
        '--backends', nargs='+', default=['pycocotools', 'faster_coco_eval'],
        choices=['pycocotools', 'faster_coco_eval'],
        help='the first is the reference of the ratio')
    parser.add_argument('--report', action='store_true',
                        help='time the evaluation report instead')
    parser.add_argument('--out', help='with --report: keep it in this '
                        'folder')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.report:
        result = benchmark_report(
            args.num_images, args.out,
            boxes_per_image=args.boxes_per_image,
            detections_per_image=args.detections_per_image)
        print(format_report_benchmark(result))
        return
    result = benchmark_backends(
        args.num_images, args.backends, args.rounds,
        boxes_per_image=args.boxes_per_image,
        detections_per_image=args.detections_per_image)
    print(format_backend_benchmark(result))


if __name__ == '__main__':
    main()
