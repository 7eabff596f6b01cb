"""COCO evaluation backends side by side on a synthetic validation set.

:func:`synthetic_eval_set` draws a COCO-style ground truth (``num_images``
images of 640 x 480, ~``boxes_per_image`` boxes each over ``num_classes``
classes, sizes spread over COCO's small / medium / large) and detections
as :class:`~fcos_mm.evaluation.CocoMetric` holds them after ``process``
(``detections_per_image`` each: jittered copies of the ground truth, some
with the wrong class, plus random boxes). :func:`benchmark_backends` runs
the whole ``compute_metrics`` of each backend on it, in turns, and reports
the times, their ratio and whether the 12 numbers agree;
:func:`benchmark_report` times the whole evaluation report on it.
"""
import json
import os.path as osp
import tempfile
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from .harness import format_table, random_boxes, timed_call, timed_turns

#: ``CocoMetric`` results: ``(gt, pred)`` per image, as ``process`` keeps.
MetricResults = List[Tuple[dict, dict]]

IMAGE_SIZE = (640, 480)  # width, height

#: Two backends "agree" when their 12 numbers differ by at most this: the
#: order of a mean's additions moves its last bits (1e-16), never a digit
#: that is printed.
EQUAL_TOLERANCE = 1e-12


def synthetic_eval_set(num_images: int = 5000,
                       boxes_per_image: int = 7,
                       detections_per_image: int = 100,
                       num_classes: int = 80,
                       seed: int = 0) -> Tuple[dict, MetricResults]:
    """A COCO ground-truth dict and ``CocoMetric`` results for it.

    Args:
        num_images (int): Images. Defaults to 5000.
        boxes_per_image (int): Mean boxes per image (Poisson, at least 1).
            Defaults to 7.
        detections_per_image (int): Detections per image. Defaults to 100.
        num_classes (int): Classes. Defaults to 80.
        seed (int): Random seed. Defaults to 0.

    Returns:
        tuple[dict, list]: The COCO dict (``images``, ``annotations``,
        ``categories``) and one ``(gt, pred)`` pair per image with ``pred``
        ``bboxes`` ``(K, 4)`` xyxy, ``scores`` ``(K,)``, ``labels`` ``(K,)``.
    """
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)  # the boxes'
    width, height = IMAGE_SIZE
    images, annotations, results = [], [], []
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id, width=width, height=height,
                           file_name=f'{img_id:06d}.jpg'))
        num_boxes = max(1, int(rng.poisson(boxes_per_image)))
        boxes = _random_boxes(generator, num_boxes)
        labels = rng.integers(0, num_classes, num_boxes)
        for box, label in zip(boxes, labels):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img_id,
                     category_id=int(label) + 1, iscrowd=0,
                     bbox=[x1, y1, x2 - x1, y2 - y1],
                     area=(x2 - x1) * (y2 - y1)))
        # about half the detections copy a box, jittered by up to 20% of
        # its size, one in ten of those with the wrong class; the rest are
        # random boxes
        num_copies = detections_per_image // 2
        source = rng.integers(0, num_boxes, num_copies)
        sizes = np.tile(boxes[source, 2:] - boxes[source, :2], 2)
        copies = boxes[source] + rng.uniform(-0.2, 0.2,
                                             (num_copies, 4)) * sizes
        copy_labels = np.where(
            rng.random(num_copies) < 0.1,
            rng.integers(0, num_classes, num_copies), labels[source])
        noise = _random_boxes(generator, detections_per_image - num_copies)
        det_boxes = np.concatenate([copies, noise]).clip(
            0, [width, height, width, height])
        det_labels = np.concatenate([
            copy_labels,
            rng.integers(0, num_classes, detections_per_image - num_copies)
        ])
        scores = np.concatenate([
            rng.uniform(0.3, 1.0, num_copies),
            rng.uniform(0.0, 0.6, detections_per_image - num_copies)
        ])
        order = np.argsort(-scores, kind='stable')
        results.append((dict(img_id=img_id, width=width, height=height),
                        dict(img_id=img_id,
                             bboxes=det_boxes[order].astype(np.float32),
                             scores=scores[order].astype(np.float32),
                             labels=det_labels[order].astype(np.int64))))
    categories = [dict(id=label + 1, name=f'class_{label}')
                  for label in range(num_classes)]
    return dict(images=images, annotations=annotations,
                categories=categories), results


def _random_boxes(generator: torch.Generator, num: int) -> np.ndarray:
    """``(num, 4)`` xyxy float64 boxes inside the image, sides 8 to 300
    pixels (log-uniform: COCO's three size ranges all occur)."""
    width, height = IMAGE_SIZE
    return random_boxes(num, (height, width), generator, 8, 300,
                        'log').double().numpy()


def write_coco(coco: dict, path: str) -> str:
    """Dump a COCO dict to ``path`` (json); return the path."""
    with open(path, 'w') as file:
        json.dump(coco, file)
    return path


def benchmark_backends(num_images: int = 5000,
                       backends: Sequence[str] = ('pycocotools',
                                                  'faster_coco_eval'),
                       rounds: int = 1,
                       **synthetic_kwargs) -> dict:
    """Time ``CocoMetric.compute_metrics`` of each backend on one
    synthetic set, in turns (``rounds`` times, the best kept).

    Returns:
        dict: ``times`` (best seconds per backend), ``metrics`` (per
        backend), ``ratio`` (each backend's time over the first's),
        ``max_difference`` (largest difference of the 12 unrounded
        numbers from the first backend's; the means may differ in the last
        bit), ``equal`` (it is below :data:`EQUAL_TOLERANCE`) and the set's
        ``num_images``, ``num_boxes``, ``num_detections``.
    """
    # The process as tools/test.py's, whose model loads mmcv's ops: without
    # them faster-coco-eval ran 2-3x slower here (measured, 2-core EPYC;
    # the old tool loaded them through fcos_mm.analysis' imports).
    import mmcv.ops  # noqa: F401
    coco, results = synthetic_eval_set(num_images, **synthetic_kwargs)
    classes = [category['name'] for category in coco['categories']]
    metrics = {}

    def new_metric(backend: str):
        """A new metric: loading the annotations is not timed."""
        from fcos_mm.evaluation import CocoMetric
        metric = CocoMetric(ann_file=ann_file, backend=backend)
        metric.dataset_meta = dict(classes=tuple(classes))
        return metric

    def evaluate(metric, backend: str) -> None:
        metrics[backend] = dict(metric.compute_metrics(list(results)))
        metrics[backend]['stats'] = [
            float(value) for value in metric.coco_eval.stats[:12]
        ]

    with tempfile.TemporaryDirectory() as tmp_dir:
        ann_file = write_coco(coco, osp.join(tmp_dir, 'val.json'))
        seconds = timed_turns(
            {backend: (lambda m, b=backend: evaluate(m, b))
             for backend in backends}, 0, rounds,
            setup={backend: (lambda b=backend: new_metric(b))
                   for backend in backends})
    times = {backend: min(seconds[backend]) for backend in backends}
    first = backends[0]
    difference = max(
        float(np.max(np.abs(np.subtract(metrics[backend]['stats'],
                                        metrics[first]['stats']))))
        for backend in backends)
    return dict(
        times=times,
        metrics=metrics,
        ratio={backend: times[backend] / times[first]
               for backend in backends},
        max_difference=difference,
        equal=difference <= EQUAL_TOLERANCE,
        num_images=num_images,
        num_boxes=len(coco['annotations']),
        num_detections=sum(len(pred['scores']) for _, pred in results))


def format_backend_benchmark(result: dict) -> str:
    """:func:`benchmark_backends`'s result as a few lines of text."""
    backends = list(result['times'])
    lines = [f'{result["num_images"]} images, {result["num_boxes"]} boxes, '
             f'{result["num_detections"]} detections']
    lines += format_table(
        [('backend', '<20'), ('seconds', '>10.2f'), ('ratio', '>8.3f')],
        [(backend, result['times'][backend], result['ratio'][backend])
         for backend in backends])
    first = result['metrics'][backends[0]]
    lines.append('12 numbers equal: ' + ('yes' if result['equal'] else 'NO') +
                 f' (largest difference {result["max_difference"]:.1e})')
    lines.append('bbox mAP: ' + ', '.join(
        f'{key.split("_", 1)[1]} {value:.3f}' for key, value in first.items()
        if key.startswith('bbox_mAP')))
    return '\n'.join(lines)


def benchmark_report(num_images: int = 5000, out_dir: Optional[str] = None,
                     backend: str = 'auto', **synthetic_kwargs) -> dict:
    """Time the whole evaluation report (COCO evaluator, matching pass,
    every section, FCOS diagnostics with the paper's assigner, files) on
    the synthetic set, as :func:`report_from_predictions` makes it.

    Args:
        num_images (int): Images. Defaults to 5000.
        out_dir (str, optional): Where the report goes; a temporary folder
            (removed) when None.
        backend (str): ``CocoMetric`` backend.

    Returns:
        dict: ``seconds`` in all, ``eval_seconds`` (the evaluator),
        ``analysis_seconds`` (the report's own pass and sections), the
        ``paths`` written (None with a temporary folder).
    """
    from mmengine.config import Config

    from fcos_mm.analysis.fcos_report_section import FCOSDiagnosticsSection
    from fcos_mm.evaluation.report import report_from_predictions
    coco, results = synthetic_eval_set(num_images, **synthetic_kwargs)
    classes = tuple(category['name'] for category in coco['categories'])
    width, height = IMAGE_SIZE
    predictions = [dict(pred, img_path='', img_shape=(height, width),
                        scale_factor=(1.0, 1.0)) for _, pred in results]
    with tempfile.TemporaryDirectory() as tmp_dir:
        cfg = Config(dict(
            model=dict(type='FCOS', bbox_head=dict(
                strides=[8, 16, 32, 64, 128])),
            test_dataloader=dict(dataset=dict(
                type='CocoDataset', metainfo=dict(classes=classes))),
            test_evaluator=dict(type='CocoMetric', ann_file=write_coco(
                coco, osp.join(tmp_dir, 'val.json')))))
        paths, seconds = timed_call(lambda: report_from_predictions(
            cfg, predictions, out_dir or osp.join(tmp_dir, 'out'),
            backend=backend,
            extra_sections=[FCOSDiagnosticsSection.from_config(cfg)]))
    meta = paths['report']['meta']
    return dict(seconds=seconds, eval_seconds=meta['eval_seconds'],
                analysis_seconds=meta['analysis_seconds'],
                num_images=num_images,
                paths=None if out_dir is None else
                {key: paths[key] for key in ('html', 'json')})


def format_report_benchmark(result: dict) -> str:
    """:func:`benchmark_report`'s result as one line."""
    return (f'report of {result["num_images"]} images: '
            f'{result["seconds"]:.1f} s in all (evaluator '
            f'{result["eval_seconds"]:.1f} s, analysis '
            f'{result["analysis_seconds"]:.1f} s)'
            + (f'; {result["paths"]["html"]}' if result['paths'] else ''))
