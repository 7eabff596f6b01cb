"""The evaluation report: one self-contained ``report.html`` (inline SVG,
embedded data, a few lines of plain JavaScript to sort tables; no network,
no server), ``report.json`` and a CSV per table.

:func:`build_report` runs each section (:mod:`.base`) on one matching pass
(:mod:`fcos_mm.evaluation.functional`) and the COCO evaluator's numbers;
:func:`~.writer.write_report` writes the files. The report is a consumer
of the ``CocoMetric`` that already ran (``tools/test.py --report`` hands
it in: the COCO evaluation runs once); given none, it evaluates itself.

The generic report knows no model: a model's own diagnostics are a
section the caller hands in (``sections`` / ``extra_sections``), e.g.
:class:`fcos_mm.analysis.fcos_report_section.FCOSDiagnosticsSection`.
"""
import datetime
from typing import List, Optional, Sequence

from fcos_mm.utils.stopwatch import Stopwatch

from .. import functional as F
from .base import ReportContext, Section, Thresholds, to_floats
from .sections import default_sections
from .writer import write_report

#: pycocotools' 12 numbers, in ``stats`` order.
COCO_NAMES = ('AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large',
              'AR@1', 'AR@10', 'AR@100', 'AR_small', 'AR_medium',
              'AR_large')


def coco_numbers(coco_eval) -> dict:
    """The 12 numbers of a ``COCOeval`` (names follow its ``maxDets``)
    and the per-class AP at all / small / medium / large sizes (mmdet's
    classwise table: last ``maxDets``)."""
    max_dets = list(coco_eval.params.maxDets)
    names = list(COCO_NAMES)
    names[6:9] = [f'AR@{num}' for num in max_dets[:3]]
    precision = coco_eval.eval['precision']  # (T, R, K, A, M)

    def mean(values):
        values = values[values > -1]
        return float(values.mean()) if values.size else None

    per_class = [[mean(precision[:, :, label, area, -1])
                  for area in range(4)]
                 for label in range(precision.shape[2])]
    return dict(names=names, values=to_floats(coco_eval.stats[:12]),
                per_class_sizes=per_class)


def build_report(data: F.EvalData,
                 coco: Optional[dict] = None,
                 meta: Optional[dict] = None,
                 training: Optional[dict] = None,
                 compare: Optional[F.EvalData] = None,
                 num_gallery: int = 12,
                 thresholds: Optional[Thresholds] = None,
                 sections: Optional[Sequence[Section]] = None,
                 predictions: Optional[Sequence[dict]] = None) -> dict:
    """Every section of the report, as JSON-able data.

    Args:
        data (EvalData): The evaluation.
        coco (dict, optional): :func:`coco_numbers` of the evaluator.
        meta (dict, optional): Config, checkpoint, versions, times.
        training (dict, optional): ``losses`` / ``metrics``: name ->
            ``(steps, values)`` (:class:`~fcos_mm.visualization.Curves`).
        compare (EvalData, optional): Another run on the same images.
        num_gallery (int): Images (boxes) per gallery.
        thresholds (Thresholds, optional): Defaults to ``Thresholds()``.
        sections (Sequence[Section], optional): Defaults to
            :func:`default_sections`.
        predictions (Sequence[dict], optional): The prediction records in
            ``data``'s image order (for sections that need them).

    Returns:
        dict: The report (its keys are the sections' entries).
    """
    with Stopwatch() as watch:
        thresholds = thresholds or Thresholds()
        sections = default_sections() if sections is None else sections
        ctx = ReportContext(data, thresholds, coco=coco, training=training,
                            compare=compare, predictions=predictions,
                            num_gallery=num_gallery)
        report = dict(
            meta=dict(meta or {}),
            thresholds=thresholds.to_json(ctx.score_thr, F.PR_IOUS))
        for section in sections:
            report.update(section.build(ctx))
    report['meta']['analysis_seconds'] = round(watch.seconds, 2)
    return report


# ---------------------------------------------------------------- driver

def predictions_from_results(results: Sequence[dict]) -> List[dict]:
    """``CocoMetric``-style predictions (``img_id``, ``img_path``,
    ``bboxes``, ``scores``, ``labels``, ``img_shape``, ``scale_factor``)
    from ``DumpDetResults``' records (``tools/test.py --out``)."""
    predictions = []
    for record in results:
        pred = record['pred_instances']
        predictions.append(dict(
            img_id=record['img_id'], img_path=record.get('img_path', ''),
            bboxes=F.to_numpy(pred['bboxes']),
            scores=F.to_numpy(pred['scores']),
            labels=F.to_numpy(pred['labels']),
            img_shape=record.get('img_shape'),
            scale_factor=record.get('scale_factor')))
    return predictions


def evaluator_settings(cfg) -> dict:
    """``ann_file`` of the config's test ``CocoMetric`` and the class
    names of its test dataset."""
    evaluators = cfg.get('test_evaluator')
    evaluators = evaluators if isinstance(evaluators, (list, tuple)) else [
        evaluators]
    ann_file = next((ev.get('ann_file') for ev in evaluators
                     if ev and ev.get('ann_file')), None)
    if ann_file is None:
        raise ValueError('the config\'s test_evaluator has no ann_file: '
                         'the report needs the ground truth as a COCO json')
    dataset = cfg.test_dataloader.dataset
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        from mmengine.registry import DefaultScope

        from fcos_mm.registry import DATASETS
        with DefaultScope.overwrite_default_scope('fcos_mm'):
            classes = DATASETS.get(dataset['type']).METAINFO['classes']
    return dict(ann_file=ann_file, classes=list(classes))


def evaluated_metric(metrics: Sequence) -> Optional[object]:
    """The first of ``metrics`` (an evaluator's) that is our
    ``CocoMetric`` holding a bbox evaluation with categories (what the
    report reads), or None."""
    from ..metrics import CocoMetric
    for metric in metrics:
        coco_eval = getattr(metric, 'coco_eval', None)
        if (isinstance(metric, CocoMetric) and coco_eval is not None
                and coco_eval.params.iouType == 'bbox'
                and coco_eval.params.useCats):
            return metric
    return None


def versions(backend: str) -> str:
    """fcos_mm, mmdet, mmengine, mmcv, torch versions and the backend."""
    import mmcv
    import mmdet
    import mmengine
    import torch

    import fcos_mm
    return (f'fcos_mm {fcos_mm.__version__}, mmdet {mmdet.__version__}, '
            f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, '
            f'torch {torch.__version__}, evaluator {backend}')


def now() -> str:
    """The time, for the report's header."""
    return datetime.datetime.now().isoformat(timespec='seconds')


def report_from_predictions(cfg, predictions: Sequence[dict], out_dir: str,
                            compare: Optional[Sequence[dict]] = None,
                            log: Optional[str] = None,
                            meta: Optional[dict] = None,
                            backend: str = 'auto',
                            num_gallery: int = 12,
                            coco_metric=None,
                            extra_sections: Sequence[Section] = ()
                            ) -> dict:
    """The whole report of a config's test set from its predictions.

    Args:
        cfg (Config): The config (test evaluator and dataset).
        predictions (Sequence[dict]): :func:`predictions_from_results`.
        out_dir (str): Where the files go.
        compare (Sequence[dict], optional): Another run's predictions.
        log (str, optional): A ``scalars.json`` for the training curves.
        meta (dict, optional): Config / checkpoint names for the summary.
        backend (str): ``CocoMetric`` backend, when it evaluates here.
        num_gallery (int): Items per gallery.
        coco_metric (CocoMetric, optional): The metric that already
            evaluated ``predictions`` (its ``coco_eval`` and ground
            truth are read; nothing is evaluated again). None: a
            ``CocoMetric`` of the config's ``ann_file`` evaluates here.
        extra_sections (Sequence[Section]): A model's sections
            (:func:`default_sections`).

    Returns:
        dict: :func:`~.writer.write_report`'s paths, with ``report``.
    """
    if coco_metric is None:
        from ..metrics import CocoMetric
        settings = evaluator_settings(cfg)
        classes = settings['classes']
        coco_metric = CocoMetric(ann_file=settings['ann_file'],
                                 backend=backend)
        coco_metric.dataset_meta = dict(classes=tuple(classes))
        coco_metric.compute_metrics([(dict(img_id=pred['img_id']), pred)
                                     for pred in predictions])
    else:
        classes = list(coco_metric.dataset_meta['classes'])
    data = F.eval_data_from_coco(coco_metric._coco_api, predictions,
                                 classes)
    by_id = {pred['img_id']: pred for pred in predictions}
    ordered = [by_id[int(img_id)] for img_id in data.img_ids]
    meta = dict(meta or {})
    meta.update(backend=coco_metric.backend,
                versions=versions(coco_metric.backend),
                eval_seconds=round(coco_metric.eval_seconds, 2),
                created=now())
    training = None
    if log is not None:
        from fcos_mm.visualization.plot_curves import load_curves
        curves = load_curves(log)
        training = dict(losses=curves.losses, metrics=curves.metrics)
    other = None
    if compare is not None:
        other = F.eval_data_from_coco(coco_metric._coco_api, compare,
                                      classes)
    sections = default_sections(extra_sections)
    report = build_report(data, coco_numbers(coco_metric.coco_eval), meta,
                          training, other, num_gallery,
                          sections=sections, predictions=ordered)
    paths = write_report(report, out_dir, data, sections=sections)
    paths['report'] = report
    return paths
