"""The report's section protocol, its thresholds and the shared context.

A report is a list of :class:`Section` objects (the default list:
:func:`~.sections.default_sections`). Each section

* **builds** its entries of ``report.json`` from a :class:`ReportContext`
  (the evaluation, its one matching pass and what several sections read,
  computed once),
* lists its **tables** (one CSV each),
* renders its **HTML** (an ``<h2 id=key>`` block) on a
  :class:`~.html.Page`.

The navigation, the JSON, the CSVs and the page all iterate over the same
list, so adding a section is one class handed to ``build_report`` /
``write_report`` (or to ``report_from_predictions(sections=...)``).

Every threshold the sections use comes from one :class:`Thresholds`,
written into ``report['thresholds']`` and printed next to each section.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import functional as F


def to_float(value) -> Optional[float]:
    """A JSON-able float (None for None, nan or inf)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def to_floats(values) -> List[Optional[float]]:
    """:func:`to_float` of each element, flattened."""
    return [to_float(value) for value in np.asarray(values).ravel()]


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the report, in one place.

    Attributes:
        f1_iou (float): IoU of a true positive for P/R/F1 against the
            score (best-F1 thresholds, score curves). Defaults to 0.5.
        confusion_iou (float): IoU of a match in the confusion matrix.
        tide_foreground (float): TIDE's foreground IoU (a true positive;
            also what the false-positive gallery counts as one).
        tide_background (float): TIDE's background IoU.
        max_dets (int): Detections matched per image and class (mmdet's
            reported AP uses 1000).
    """
    f1_iou: float = 0.5
    confusion_iou: float = 0.5
    tide_foreground: float = 0.5
    tide_background: float = 0.1
    max_dets: int = 1000

    def to_json(self, score: float, pr_iou: Sequence[str]) -> dict:
        """``report['thresholds']``: these, the score threshold of the
        confusion matrix and galleries, the PR curves' IoUs."""
        return dict(pr_iou=list(pr_iou), f1_iou=self.f1_iou,
                    max_dets=self.max_dets,
                    confusion=dict(score=score, iou=self.confusion_iou),
                    tide=dict(foreground=self.tide_foreground,
                              background=self.tide_background),
                    gallery_fp_iou=self.tide_foreground)


class ReportContext:
    """What the sections read: the evaluation, its matching pass and the
    results several sections share, each computed once on first use.

    Args:
        data (EvalData): The evaluation.
        thresholds (Thresholds): The report's thresholds.
        coco (dict, optional): :func:`~.driver.coco_numbers` of the COCO
            evaluator that ran.
        training (dict, optional): ``losses`` / ``metrics``: name ->
            ``(steps, values)``.
        compare (EvalData, optional): Another run on the same images.
        predictions (Sequence[dict], optional): Per image of ``data``, in
            its order, the prediction records (``img_shape``,
            ``scale_factor``, ...), for sections that need the network
            input.
        num_gallery (int): Items per gallery.
    """

    def __init__(self, data: F.EvalData, thresholds: Thresholds,
                 coco: Optional[dict] = None,
                 training: Optional[dict] = None,
                 compare: Optional[F.EvalData] = None,
                 predictions: Optional[Sequence[dict]] = None,
                 num_gallery: int = 12) -> None:
        self.data = data
        self.thresholds = thresholds
        self.coco = coco
        self.training = training
        self.compare = compare
        self.predictions = predictions
        self.num_gallery = num_gallery

    @cached_property
    def matching(self) -> F.Matching:
        return F.match_detections(self.data,
                                  max_dets=self.thresholds.max_dets)

    @cached_property
    def class_precision(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(T, K)`` AP and ``(T, K, R)`` precision."""
        return F.class_precision(self.data, self.matching)

    @property
    def aps(self) -> np.ndarray:
        return self.class_precision[0]

    @cached_property
    def gt_counts(self) -> np.ndarray:
        return F.gt_counts(self.data)

    @cached_property
    def best_f1(self) -> Dict[str, float]:
        """The best F1 over all classes pooled."""
        return F.best_f1(self.data, self.matching,
                         iou_thr=self.thresholds.f1_iou)

    @cached_property
    def score_thr(self) -> float:
        """The score threshold of the confusion matrix and the galleries:
        the best-F1 threshold over all classes (0.5 without one)."""
        threshold = self.best_f1['threshold']
        return threshold if np.isfinite(threshold) else 0.5

    @cached_property
    def confusion(self) -> dict:
        """:func:`~fcos_mm.evaluation.functional.confusion_matrix` at the
        report's score threshold."""
        return F.confusion_matrix(self.data, self.matching, self.score_thr,
                                  self.thresholds.confusion_iou)

    @cached_property
    def errors(self) -> dict:
        """:func:`~fcos_mm.evaluation.functional.tide_errors`."""
        return F.tide_errors(self.data, self.matching,
                             self.thresholds.tide_foreground,
                             self.thresholds.tide_background)

    @cached_property
    def false_positives(self) -> np.ndarray:
        """``(D,)`` bool: a TIDE error (not a true positive, not
        ignored)."""
        return np.isin(self.errors['det_type'],
                       ('cls', 'loc', 'both', 'dupe', 'bkg'))

    @cached_property
    def image_aps(self) -> np.ndarray:
        """``(I,)`` AP of each image at TIDE's foreground IoU."""
        return F.image_ap(self.data, self.matching,
                          self.thresholds.tide_foreground)


def box_item(data: F.EvalData, index: int, kind: str,
             note: str = '') -> dict:
    """A gallery entry of one box (``kind='gt'``) or detection
    (``'det'``): image, box, class name, score, note."""
    if kind == 'gt':
        image, box = int(data.gt_image[index]), data.gt_boxes[index]
        label, score = int(data.gt_labels[index]), None
    else:
        image, box = int(data.det_image[index]), data.det_boxes[index]
        label = int(data.det_labels[index])
        score = to_float(data.det_scores[index])
    return dict(image=image, box=to_floats(np.round(box, 1)),
                label=data.classes[label], score=score, note=note,
                kind=kind)


class Section:
    """One section of the report (module docstring).

    Attributes:
        key (str): Its anchor in the page (``id``).
        title (str): Its name in the navigation and the heading.
    """
    key = ''
    title = ''

    def build(self, ctx: ReportContext) -> dict:
        """Its entries of ``report.json`` (none: the section is absent)."""
        return {}

    def present(self, report: dict) -> bool:
        """Whether ``report`` holds this section (nav, tables, HTML)."""
        return self.key in report

    def tables(self, report: dict) -> List[Tuple[str, list, list]]:
        """``(file name, header, rows)`` of each of its CSV tables."""
        return []

    def html(self, report: dict, page) -> str:
        """Its part of ``report.html``, on a :class:`~.html.Page`."""
        return ''
