"""COCO AP from the matching pass: pycocotools' ``accumulate`` per class and
threshold, PR curves at the 101 recall points, and each image's own AP.

* :func:`coco_ap` accumulates as pycocotools does, so the per-class APs
  and the mAP of :func:`class_precision` equal ``COCOeval``'s.
* :func:`pr_curves`: precision at the 101 recall points at IoU 0.5, 0.75
  and averaged over 0.5:0.95, per class and overall (mean over classes).
* :func:`image_ap`: AP50 of each image (mean over the classes with boxes
  in it), for the gallery of the worst images.

Shapes as in :mod:`.eval_data`.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from .eval_data import EvalData
from .matching import Matching, group_positions, thr_index

#: COCO's recall points.
REC_THRS = np.linspace(0.0, 1.00, 101)
#: The IoUs of :func:`pr_curves`: 0.5, 0.75 and the mean over 0.5:0.95.
PR_IOUS = ('0.5', '0.75', '0.5:0.95')


def coco_ap(scores: np.ndarray, tp: np.ndarray, ignored: np.ndarray,
            num_gts: int) -> Tuple[float, np.ndarray, np.ndarray]:
    """pycocotools' ``accumulate`` for one class and threshold.

    Args:
        scores, tp, ignored (np.ndarray): ``(n,)`` of the kept detections,
            in pycocotools' concatenation order (image id, then score).
        num_gts (int): Non-ignored boxes.

    Returns:
        tuple: AP (nan without boxes), ``(R,)`` precision at the recall
        points and ``(R,)`` the score there (0 past the last recall).
    """
    if num_gts == 0:
        return float('nan'), np.full(len(REC_THRS), np.nan), np.zeros(
            len(REC_THRS))
    order = np.argsort(-scores, kind='mergesort')
    tps = (tp & ~ignored)[order]
    fps = (~tp & ~ignored)[order]
    tp_sum = np.cumsum(tps).astype(float)
    fp_sum = np.cumsum(fps).astype(float)
    recall = tp_sum / num_gts
    precision = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    inds = np.searchsorted(recall, REC_THRS, side='left')
    valid = inds < len(recall)
    q = np.zeros(len(REC_THRS))
    at_score = np.zeros(len(REC_THRS))
    q[valid] = precision[inds[valid]]
    at_score[valid] = scores[order][inds[valid]]
    return float(q.mean()), q, at_score


def class_members(data: EvalData, matching: Matching) -> List[np.ndarray]:
    """Per class, its kept detections in pycocotools' order (image id,
    then the stable per-image order)."""
    groups = group_positions(data.det_labels, data.num_classes)
    return [ids[matching.kept[ids]] for ids in groups]


def gt_counts(data: EvalData) -> np.ndarray:
    """``(K,)`` non-ignored boxes per class."""
    return np.bincount(data.gt_labels[~data.gt_ignore],
                       minlength=data.num_classes)


def class_precision(data: EvalData, matching: Matching
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, K)`` AP per threshold and class (nan: class without boxes)
    and ``(T, K, R)`` precision at the recall points; computed once per
    ``matching`` (its ``cache``)."""
    if 'class_precision' in matching.cache:
        return matching.cache['class_precision']
    members = class_members(data, matching)
    counts = gt_counts(data)
    num_thrs = len(matching.iou_thrs)
    aps = np.full((num_thrs, data.num_classes), np.nan)
    precision = np.full((num_thrs, data.num_classes, len(REC_THRS)),
                        np.nan)
    for thr in range(num_thrs):
        for label, ids in enumerate(members):
            aps[thr, label], precision[thr, label], _ = coco_ap(
                data.det_scores[ids], matching.tp[thr, ids],
                matching.ignored[thr, ids], counts[label])
    matching.cache['class_precision'] = aps, precision
    return aps, precision


def class_ap(data: EvalData, matching: Matching) -> np.ndarray:
    """``(T, K)`` AP per threshold and class (nan: class without boxes)."""
    return class_precision(data, matching)[0]


def pr_curves(data: EvalData, matching: Matching,
              precision: Optional[np.ndarray] = None
              ) -> Dict[str, np.ndarray]:
    """Precision at the 101 recall points.

    Args:
        data, matching: The evaluation and its pass.
        precision (np.ndarray, optional): :func:`class_precision`'s, if
            at hand.

    Returns:
        dict: ``'0.5'``, ``'0.75'``, ``'0.5:0.95'`` -> ``(K + 1, R)``,
        the classes then their mean (nan rows: classes without boxes).
    """
    per_thr = (precision if precision is not None else
               class_precision(data, matching)[1])
    curves = {}
    for name, rows in zip(PR_IOUS, ([thr_index(matching, 0.5)],
                                    [thr_index(matching, 0.75)],
                                    list(range(len(matching.iou_thrs))))):
        classes = per_thr[rows].mean(0)
        with np.errstate(all='ignore'):
            overall = (np.nanmean(classes, 0) if np.isfinite(classes).any()
                       else np.zeros(len(REC_THRS)))
        curves[name] = np.vstack([classes, overall[None]])
    return curves




def image_ap(data: EvalData, matching: Matching,
             iou_thr: float = 0.5) -> np.ndarray:
    """``(I,)`` AP at ``iou_thr`` of each image alone: the mean over the
    classes with (non-ignored) boxes in it of their AP; nan without
    boxes."""
    thr = thr_index(matching, iou_thr)
    result = np.full(data.num_images, np.nan)
    for image, (dets, gts) in enumerate(zip(matching.det_index,
                                            matching.gt_index)):
        gts = gts[~data.gt_ignore[gts]]
        if len(gts) == 0:
            continue
        dets = dets[matching.kept[dets]]
        aps = []
        for label in np.unique(data.gt_labels[gts]):
            ids = dets[data.det_labels[dets] == label]
            aps.append(coco_ap(data.det_scores[ids], matching.tp[thr, ids],
                               matching.ignored[thr, ids],
                               int((data.gt_labels[gts] == label).sum()))[0])
        result[image] = float(np.mean(aps))
    return result
