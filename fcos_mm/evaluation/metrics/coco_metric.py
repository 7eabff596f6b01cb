"""mmdet's ``CocoMetric`` on a choice of COCO evaluators, with a
``proposal_fast`` that runs on numpy >= 1.24.

Differences from mmdet
----------------------
* **Backend.** ``backend='faster_coco_eval'`` evaluates with
  faster-coco-eval's ``COCOeval_faster`` (C++ matching and accumulation, the
  same numbers as pycocotools), ``'pycocotools'`` with mmdet's
  ``COCOeval``; ``'auto'`` (the default) takes faster-coco-eval when it is
  installed. mmdet's ``compute_metrics`` runs unchanged: for the duration of
  the call the names ``COCOeval``, ``COCO`` and ``load`` in mmdet's
  ``coco_metric`` module point at ours (restored after, also on error).
  With faster-coco-eval the ground truth is indexed by its ``COCO`` (set
  lookups where pycocotools scans lists). The last bbox evaluator stays in
  :attr:`CocoMetric.coco_eval` (its ``stats``, unrounded, and
  ``eval['precision']``).
* **Writing the detections.** ``results2json`` builds the bbox records with
  numpy, writes them with the C JSON encoder (the same file as mmdet's:
  same keys, same float values) only when ``outfile_prefix`` asks for the
  files, and hands the records to ``compute_metrics`` in memory instead of
  reading the file back. At 5000 images x 100 detections mmdet's write and
  read take longer than faster-coco-eval's whole evaluation.
* **proposal_fast** (top-N proposal recall, reported by RPN configs) ends in
  mmdet 3.3's ``eval_recalls``, which stacks the per-image IoU matrices with
  ``np.array``; with different box counts per image that ragged array is a
  ``ValueError`` since numpy 1.24. Ours
  (:func:`~fcos_mm.evaluation.functional.eval_recalls`) keeps the
  matrices in an object array; matching, recall and table are mmdet's own
  (``_recalls``, ``print_recall_summary``).
"""
import contextlib
import importlib.util
import itertools
import json
from typing import Iterator, List, Optional, Sequence

import mmdet.evaluation.metrics.coco_metric as mmdet_coco_metric
import numpy as np
from mmdet.evaluation.metrics import CocoMetric as MMDetCocoMetric
from mmengine.fileio import load
from mmengine.logging import MMLogger

from fcos_mm.registry import METRICS
from fcos_mm.utils.stopwatch import Stopwatch

from ..functional.recall import eval_recalls

#: The values of ``CocoMetric(backend=...)``.
BACKENDS = ('auto', 'faster_coco_eval', 'pycocotools')


def resolve_backend(backend: str) -> str:
    """``'faster_coco_eval'`` or ``'pycocotools'`` for a ``backend``
    argument: ``'auto'`` is faster-coco-eval when it can be imported.

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        ImportError: ``'faster_coco_eval'`` asked for but not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f'CocoMetric: backend must be one of {BACKENDS}, '
                         f'got {backend!r}')
    installed = importlib.util.find_spec('faster_coco_eval') is not None
    if backend == 'auto':
        return 'faster_coco_eval' if installed else 'pycocotools'
    if backend == 'faster_coco_eval' and not installed:
        raise ImportError('CocoMetric(backend=\'faster_coco_eval\') needs '
                          '`pip install faster-coco-eval`')
    return backend


def evaluator_class(backend: str) -> type:
    """The ``COCOeval`` class of a resolved ``backend``; faster-coco-eval's
    prints its summary with ``print``, as pycocotools does."""
    if backend == 'pycocotools':
        return mmdet_coco_metric.COCOeval
    from faster_coco_eval import COCOeval_faster

    class FasterCOCOeval(COCOeval_faster):
        """``COCOeval_faster`` that prints like pycocotools."""

        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault('print_function', print)
            super().__init__(*args, **kwargs)

    return FasterCOCOeval


@METRICS.register_module()
class CocoMetric(MMDetCocoMetric):
    """mmdet's ``CocoMetric`` (same name, ``fcos_mm`` scope) on a choice of
    evaluator, whose ``proposal_fast`` works with any numpy (see the module
    docstring).

    Args:
        backend (str): ``'auto'``, ``'faster_coco_eval'`` or
            ``'pycocotools'``. Defaults to ``'auto'``.
        **kwargs: mmdet's ``CocoMetric`` arguments.

    Attributes:
        backend (str): The evaluator used, ``'faster_coco_eval'`` or
            ``'pycocotools'``.
        coco_eval: The last bbox (or proposal) evaluator, after
            ``compute_metrics``; None before.
        eval_seconds (float): How long the last ``compute_metrics`` took;
            None before.
    """

    def __init__(self, *args, backend: str = 'auto', **kwargs) -> None:
        self.backend = resolve_backend(backend)
        self.coco_eval = None
        self.eval_seconds = None
        # results2json's records by file name, for mmdet's load() of them
        self._records = {}
        super().__init__(*args, **kwargs)

    def _load(self, path, *args, **kwargs):
        """mmengine's ``load``, but the records just made for ``path``
        come from memory: fresh copies each time, as a file read would
        give (pycocotools' ``loadRes`` adds keys to them, and ``'bbox'``
        and ``'proposal'`` read the same file)."""
        if path in self._records:
            return [dict(record) for record in self._records[path]]
        return load(path, *args, **kwargs)

    @contextlib.contextmanager
    def _evaluator(self) -> Iterator[None]:
        """Point mmdet's ``COCOeval`` (and with faster-coco-eval ``COCO``)
        at our backend's, recording each evaluator into ``self.coco_eval``,
        and its ``load`` at :meth:`_load`, while the block runs."""
        base = evaluator_class(self.backend)
        metric = self

        class Recorded(base):
            """The backend's evaluator, kept by the metric once built."""

            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                metric.coco_eval = self

        names = dict(COCOeval=Recorded, load=self._load)
        if self.backend == 'faster_coco_eval':
            from faster_coco_eval import COCO
            names['COCO'] = COCO
            if (self._coco_api is not None
                    and not isinstance(self._coco_api, COCO)):
                # the same annotations (mmdet sorted the categories)
                api = COCO()
                api.dataset = self._coco_api.dataset
                api.createIndex()
                self._coco_api = api
        original = {name: getattr(mmdet_coco_metric, name) for name in names}
        for name, value in names.items():
            setattr(mmdet_coco_metric, name, value)
        try:
            yield
        finally:
            for name, value in original.items():
                setattr(mmdet_coco_metric, name, value)
            self._records.clear()

    def compute_metrics(self, results: list) -> dict:
        """mmdet's, on :attr:`backend`'s evaluator (timed:
        :attr:`eval_seconds`)."""
        with Stopwatch() as watch, self._evaluator():
            metrics = super().compute_metrics(results)
        self.eval_seconds = watch.seconds
        return metrics

    def results2json(self, results: Sequence[dict],
                     outfile_prefix: str) -> dict:
        """mmdet's result files; the bbox-only records (no masks) are
        built with numpy, the same record for record, written (C JSON
        encoder) when ``outfile_prefix`` is set and kept in memory for
        ``compute_metrics`` either way."""
        if not results or 'masks' in results[0]:
            return super().results2json(results, outfile_prefix)
        cat_ids = np.asarray(self.cat_ids)
        # all images at once: one conversion to Python numbers per field
        image_ids, boxes, scores, labels = [], [], [], []
        for idx, result in enumerate(results):
            num = len(result['scores'])
            image_ids.append([result.get('img_id', idx)] * num)
            boxes.append(np.asarray(result['bboxes']).reshape(-1, 4))
            scores.append(np.asarray(result['scores']).reshape(-1))
            labels.append(np.asarray(result['labels']).reshape(-1))
        # as mmdet's xyxy2xywh: width and height of the Python floats
        bboxes = np.concatenate(boxes).astype(np.float64)
        xywh = np.concatenate([bboxes[:, :2], bboxes[:, 2:4] - bboxes[:, :2]],
                              axis=1).tolist()
        # float32 scores become the same Python floats as mmdet's float()
        score_list = np.concatenate(scores).tolist()
        categories = cat_ids[np.concatenate(labels).astype(np.int64)].tolist()
        records = [
            dict(image_id=image_id, bbox=box, score=score,
                 category_id=category)
            for image_id, box, score, category in zip(
                itertools.chain.from_iterable(image_ids), xywh, score_list,
                categories)
        ]
        result_files = dict(bbox=f'{outfile_prefix}.bbox.json',
                            proposal=f'{outfile_prefix}.bbox.json')
        if self.outfile_prefix is not None:
            with open(result_files['bbox'], 'w') as file:
                file.write(json.dumps(records))
        self._records[result_files['bbox']] = records
        return result_files

    def fast_eval_recall(self,
                         results: List[dict],
                         proposal_nums: Sequence[int],
                         iou_thrs: Sequence[float],
                         logger: Optional[MMLogger] = None) -> np.ndarray:
        """mmdet's: ``(len(proposal_nums),)`` recalls averaged over
        ``iou_thrs``, of the per-image ``bboxes`` ``(K, 4)`` (by decreasing
        score, in ``self.img_ids`` order) against ``ann_file``'s boxes less
        crowd and ignored ones; through :func:`eval_recalls`."""
        gt_bboxes = []
        for img_id in self.img_ids:
            anns = self._coco_api.load_anns(
                self._coco_api.get_ann_ids(img_ids=img_id))
            boxes = [[x, y, x + w, y + h]
                     for x, y, w, h in (ann['bbox'] for ann in anns
                                        if not ann.get('ignore', False)
                                        and not ann['iscrowd'])]
            gt_bboxes.append(
                np.array(boxes, dtype=np.float32).reshape(-1, 4))
        recalls = eval_recalls(gt_bboxes,
                               [result['bboxes'] for result in results],
                               proposal_nums, iou_thrs, logger=logger)
        return recalls.mean(axis=1)
