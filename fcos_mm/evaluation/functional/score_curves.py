"""Precision, recall and F1 against the score threshold.

A detection counts where its score ``>=`` the threshold; IoU 0.5 by
default; per class or over all classes pooled. The sorted scores and
true-positive flags of each (class, threshold) are computed once per
:class:`~.matching.Matching` (:func:`pooled`, kept in its ``cache``):
the report reads them for the best F1, the curves and the tables.

* :func:`score_curves`: precision, recall, F1 on a grid of thresholds
  (precision nan above the top score, where no detection is left).
* :func:`best_f1`, :func:`prf_at`: the best-F1 threshold, and P/R/F1 at
  a threshold.
"""
from typing import Dict, Optional, Tuple

import numpy as np

from .ap import gt_counts
from .eval_data import EvalData
from .matching import Matching, thr_index


def pooled(data: EvalData, matching: Matching, label: Optional[int],
           thr: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Scores (descending) and TP flags at threshold index ``thr`` of the
    kept, non-ignored detections of ``label`` (None: all classes), and
    the number of boxes; computed once per ``matching`` (its ``cache``)."""
    key = ('pooled', label, thr)
    if key not in matching.cache:
        keep = matching.kept & ~matching.ignored[thr]
        counts = gt_counts(data)
        if label is not None:
            keep &= data.det_labels == label
            num_gts = int(counts[label])
        else:
            num_gts = int(counts.sum())
        scores = data.det_scores[keep]
        order = np.argsort(-scores, kind='mergesort')
        matching.cache[key] = (scores[order], matching.tp[thr, keep][order],
                               num_gts)
    return matching.cache[key]


def _prf(tp_count, det_count, num_gts):
    """Precision, recall, F1 arrays (precision 1 with no detection)."""
    tp_count = np.asarray(tp_count, float)
    det_count = np.asarray(det_count, float)
    precision = np.where(det_count > 0, tp_count / np.maximum(det_count, 1),
                         1.0)
    recall = tp_count / num_gts if num_gts else np.zeros_like(tp_count)
    total = precision + recall
    f1 = np.where(total > 0, 2 * precision * recall / np.where(
        total > 0, total, 1), 0.0)
    return precision, recall, f1


def prf_at(data: EvalData, matching: Matching, score_thr: float,
           label: Optional[int] = None, iou_thr: float = 0.5
           ) -> Dict[str, float]:
    """Precision, recall and F1 of the detections with score ``>=
    score_thr`` at ``iou_thr`` (``label``: one class; None: all pooled).

    Returns:
        dict: ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``gts``.
    """
    scores, tps, num_gts = pooled(data, matching, label,
                                  thr_index(matching, iou_thr))
    above = scores >= score_thr
    num_tp, num_det = int(tps[above].sum()), int(above.sum())
    precision, recall, f1 = _prf(num_tp, num_det, num_gts)
    return dict(precision=float(precision), recall=float(recall),
                f1=float(f1), tp=num_tp, fp=num_det - num_tp, gts=num_gts)


def best_f1(data: EvalData, matching: Matching,
            label: Optional[int] = None, iou_thr: float = 0.5
            ) -> Dict[str, float]:
    """The score threshold of best F1 (the highest such score on a tie)
    and :func:`prf_at` there; ``threshold`` nan without detections."""
    scores, tps, num_gts = pooled(data, matching, label,
                                  thr_index(matching, iou_thr))
    if len(scores) == 0:
        result = prf_at(data, matching, np.inf, label, iou_thr)
        result['threshold'] = float('nan')
        return result
    # the last detection of each run of equal scores: thresholds
    ends = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]
    _, _, f1 = _prf(np.cumsum(tps)[ends], ends + 1, num_gts)
    threshold = float(scores[ends[int(np.argmax(f1))]])
    result = prf_at(data, matching, threshold, label, iou_thr)
    result['threshold'] = threshold
    return result


def score_curves(data: EvalData, matching: Matching,
                 label: Optional[int] = None, iou_thr: float = 0.5,
                 num_points: int = 101) -> Dict[str, np.ndarray]:
    """Precision, recall, F1 against the score threshold on a grid of
    ``num_points`` from 0 to 1. Returns ``score``, ``precision``,
    ``recall``, ``f1`` arrays; above the top score no detection is left:
    precision is undefined there (nan, not 1), recall and F1 are 0."""
    scores, tps, num_gts = pooled(data, matching, label,
                                  thr_index(matching, iou_thr))
    grid = np.linspace(0, 1, num_points)
    # detections with score >= s: scores are descending
    count = np.searchsorted(-scores, -grid, side='right')
    tp_count = np.r_[0, np.cumsum(tps)][count]
    precision, recall, f1 = _prf(tp_count, count, num_gts)
    precision = np.where(count > 0, precision, np.nan)
    return dict(score=grid, precision=precision, recall=recall, f1=f1)
