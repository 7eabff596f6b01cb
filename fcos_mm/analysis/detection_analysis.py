"""Why a detector scores what it scores: every table of the evaluation
report from one matching pass.

Shape shorthand
---------------
* ``I`` images, ``G`` ground-truth boxes, ``D`` detections (all images,
  concatenated), ``K`` classes, ``T`` IoU thresholds (COCO's 0.5:0.95),
  ``R`` = 101 recall points.
* Boxes are ``(x1, y1, x2, y2)`` in the original image's pixels, as
  ``CocoMetric`` evaluates them.

The pass (:func:`match_detections`)
-----------------------------------
For each image the IoU matrix of its detections against its boxes is
computed **once**; everything else reads it:

* **COCO matching**, pycocotools' ``evaluateImg`` rule at every threshold
  (all image-class pairs in lockstep): per image and class, detections by
  decreasing score (stable), the first ``max_dets`` kept; each takes the
  unmatched box of best IoU ``>= t`` (the later box on a tie),
  crowd/ignored boxes only when no other fits (a detection on one is
  ignored; crowd boxes match any number).
  ``max_dets`` defaults to 1000, the last of ``CocoMetric``'s
  ``proposal_nums``, at which mmdet reports AP50, AP75, AP s/m/l and the
  per-class AP (pycocotools' mAP itself is at 100; FCOS keeps 100 per
  image, so they agree). :func:`coco_ap` then
  accumulates as pycocotools does, so the per-class APs and the mAP equal
  ``COCOeval``'s (tests check).
* For each detection, its best IoU with a box of its class and with a box
  of another class (:class:`Matching`), which the error breakdown and the
  confusion matrix read.

What is derived
---------------
* :func:`pr_curves`: precision at the 101 recall points at IoU 0.5, 0.75
  and averaged over 0.5:0.95, per class and overall (mean over classes).
* :func:`score_curves`, :func:`best_f1`, :func:`prf_at`: precision, recall
  and F1 at IoU 0.5 against the score threshold (a detection counts where
  its score ``>=`` the threshold), per class and over all classes pooled.
* :func:`confusion_matrix`: ``(K + 1, K + 1)`` counts, rows the true class
  (last: background), columns the predicted class (last: background, i.e.
  missed). Detections with score ``>= score_thr``, per image by decreasing
  score: first matched within their class (best unmatched box with IoU
  ``>= iou_thr``), then the rest to any unmatched box of another class
  (best IoU). **Each detection and each box is counted exactly once**:
  an unmatched detection is a background row entry (duplicates included),
  an unmatched box a background column entry. Detections whose only
  overlap is an ignored (crowd) box are left out and counted apart.
* :func:`tide_errors`: TIDE's six error types (Bolya et al., ECCV 2020) at
  IoU 0.5 with background threshold 0.1. A detection that is not a true
  positive is, in this order: **background** when its image has no box;
  **localisation** when ``0.1 <= IoU < 0.5`` with a box of its class;
  **classification** when ``IoU >= 0.5`` with a box of another class;
  **duplicate** when ``IoU >= 0.5`` with a box of its class (already
  taken by a higher score); **background** when every IoU ``< 0.1``;
  else **both** (wrong class and ``0.1 <= IoU < 0.5``). A box no true
  positive takes and no localisation or classification error points at is
  **missed**. Each type's **dAP** is the AP50 gained by fixing it alone:
  a classification (localisation) error becomes a true positive of its
  box when that box is still free (else it is removed); duplicates,
  background and both-errors are removed; missed boxes leave the count of
  boxes. Per class, the same with that class's AP50.
* :func:`image_ap`: AP50 of each image (mean over the classes with boxes
  in it), for the gallery of the worst images.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: COCO's IoU thresholds and recall points.
IOU_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.00, 101)

#: TIDE's error types, in the report's order.
TIDE_TYPES = ('cls', 'loc', 'both', 'dupe', 'bkg', 'missed')
TIDE_NAMES = dict(cls='classification', loc='localisation',
                  both='both (cls + loc)', dupe='duplicate',
                  bkg='background', missed='missed')


@dataclass
class EvalData:
    """Ground truth and detections of a whole evaluation, flattened.

    Attributes:
        classes (list[str]): ``K`` class names.
        img_ids (np.ndarray): ``(I,)`` COCO image ids, ascending.
        img_paths (list[str]): ``I`` image files ('' when unknown).
        img_sizes (np.ndarray): ``(I, 2)`` original ``(height, width)``.
        gt_image (np.ndarray): ``(G,)`` image index of each box.
        gt_boxes (np.ndarray): ``(G, 4)`` xyxy.
        gt_labels (np.ndarray): ``(G,)`` class index in ``[0, K)``.
        gt_ignore (np.ndarray): ``(G,)`` bool: crowd or ``ignore`` boxes.
        gt_areas (np.ndarray): ``(G,)`` the annotation's ``area``.
        det_image (np.ndarray): ``(D,)`` image index of each detection.
        det_boxes (np.ndarray): ``(D, 4)`` xyxy.
        det_scores (np.ndarray): ``(D,)``.
        det_labels (np.ndarray): ``(D,)`` class index.
    """
    classes: List[str]
    img_ids: np.ndarray
    img_paths: List[str]
    img_sizes: np.ndarray
    gt_image: np.ndarray
    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    gt_ignore: np.ndarray
    gt_areas: np.ndarray
    det_image: np.ndarray
    det_boxes: np.ndarray
    det_scores: np.ndarray
    det_labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_images(self) -> int:
        return len(self.img_ids)


@dataclass
class Matching:
    """The pass's result (module docstring).

    Attributes:
        kept (np.ndarray): ``(D,)`` bool: among the first ``max_dets`` of
            its image and class (the others play no part).
        tp (np.ndarray): ``(T, D)`` bool true positives.
        ignored (np.ndarray): ``(T, D)`` bool: matched an ignored box.
        det_gt (np.ndarray): ``(T, D)`` index of the matched box, or -1.
        gt_det (np.ndarray): ``(T, G)`` index of the matching detection,
            or -1 (for an ignored box, the last one).
        iou_same (np.ndarray): ``(D,)`` best IoU with a non-ignored box of
            the detection's class (0 without one); ``gt_same`` its index.
        iou_other (np.ndarray): ``(D,)`` the same over other classes;
            ``gt_other`` its index.
        ious (list[np.ndarray]): per image ``(D_i, G_i)`` IoU matrix, rows
            in the order of ``det_index``, columns of ``gt_index``.
        det_index (list[np.ndarray]): per image, its detections.
        gt_index (list[np.ndarray]): per image, its boxes.
        iou_thrs (np.ndarray): ``(T,)``.
    """
    kept: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    det_gt: np.ndarray
    gt_det: np.ndarray
    iou_same: np.ndarray
    gt_same: np.ndarray
    iou_other: np.ndarray
    gt_other: np.ndarray
    ious: List[np.ndarray]
    det_index: List[np.ndarray]
    gt_index: List[np.ndarray]
    iou_thrs: np.ndarray


def box_iou(dets: np.ndarray, gts: np.ndarray,
            crowd: Optional[np.ndarray] = None) -> np.ndarray:
    """``(D, G)`` IoU of xyxy boxes, pycocotools' way: for a crowd box the
    union is the detection's area alone."""
    if len(dets) == 0 or len(gts) == 0:
        return np.zeros((len(dets), len(gts)))
    dets = dets.astype(np.float64)
    gts = gts.astype(np.float64)
    width = (np.minimum(dets[:, None, 2], gts[None, :, 2]) -
             np.maximum(dets[:, None, 0], gts[None, :, 0])).clip(0)
    height = (np.minimum(dets[:, None, 3], gts[None, :, 3]) -
              np.maximum(dets[:, None, 1], gts[None, :, 1])).clip(0)
    inter = width * height
    det_area = ((dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1]))[:, None]
    gt_area = ((gts[:, 2] - gts[:, 0]) * (gts[:, 3] - gts[:, 1]))[None]
    union = det_area + gt_area - inter
    if crowd is not None:
        union = np.where(crowd[None], det_area, union)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _group(index: np.ndarray, size: int) -> List[np.ndarray]:
    """Positions of each value ``0 .. size-1`` of ``index``, in order."""
    order = np.argsort(index, kind='stable')
    bounds = np.searchsorted(index[order], np.arange(size + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(size)]


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """Position of each element among the equal ``keys`` before it, for
    ``keys`` already sorted."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    return np.arange(len(keys)) - first


def match_detections(data: EvalData,
                     iou_thrs: Sequence[float] = IOU_THRS,
                     max_dets: int = 1000) -> Matching:
    """The one matching pass (module docstring).

    The greedy matching runs in lockstep over every (image, class) pair
    that has both detections and boxes: step ``k`` matches the ``k``-th
    detection of each such pair, all thresholds at once.

    Args:
        data (EvalData): Ground truth and detections.
        iou_thrs (Sequence[float]): Thresholds. Defaults to COCO's.
        max_dets (int): Detections kept per image and class, by score.
            Defaults to 1000 (mmdet's reported AP).

    Returns:
        Matching: The pass's result.
    """
    num_classes = data.num_classes
    num_thrs, num_dets = len(iou_thrs), len(data.det_scores)
    num_gts = len(data.gt_labels)
    # detections by (image, class, decreasing score), stable
    det_order = np.lexsort((-data.det_scores, data.det_labels,
                            data.det_image))
    det_keys = (data.det_image * num_classes + data.det_labels)[det_order]
    det_rank = _rank_in_group(det_keys)
    kept = np.zeros(num_dets, bool)
    kept[det_order[det_rank < max_dets]] = True
    # boxes by (image, class), ignored ones last (pycocotools' order)
    gt_order = np.lexsort((data.gt_ignore, data.gt_labels, data.gt_image))
    gt_keys = (data.gt_image * num_classes + data.gt_labels)[gt_order]
    gt_rank = _rank_in_group(gt_keys)

    iou_same = np.zeros(num_dets)
    iou_other = np.zeros(num_dets)
    gt_same = np.full(num_dets, -1)
    gt_other = np.full(num_dets, -1)
    det_groups = _group(data.det_image, data.num_images)
    gt_groups = _group(data.gt_image, data.num_images)
    all_ious = []
    for dets, gts in zip(det_groups, gt_groups):
        crowd = data.gt_ignore[gts]
        ious = box_iou(data.det_boxes[dets], data.gt_boxes[gts], crowd)
        all_ious.append(ious)
        if len(dets) == 0 or len(gts) == 0:
            continue
        same = data.det_labels[dets][:, None] == data.gt_labels[gts][None]
        for mask, best_iou, best_gt in ((same & ~crowd, iou_same, gt_same),
                                        (~same & ~crowd, iou_other,
                                         gt_other)):
            masked = np.where(mask, ious, -1.0)
            column = masked.argmax(1)
            value = masked[np.arange(len(dets)), column]
            best_iou[dets] = value.clip(0)
            best_gt[dets] = np.where(value >= 0, gts[column], -1)

    tp = np.zeros((num_thrs, num_dets), bool)
    ignored = np.zeros((num_thrs, num_dets), bool)
    det_gt = np.full((num_thrs, num_dets), -1)
    gt_det = np.full((num_thrs, num_gts), -1)
    _match_lockstep(data, np.asarray(iou_thrs, dtype=np.float64),
                    det_order[kept[det_order]],
                    det_keys[kept[det_order]], det_rank[kept[det_order]],
                    gt_order, gt_keys, gt_rank, tp, ignored, det_gt, gt_det)
    return Matching(kept, tp, ignored, det_gt, gt_det, iou_same, gt_same,
                    iou_other, gt_other, all_ious, det_groups, gt_groups,
                    np.asarray(iou_thrs, dtype=np.float64))


def _match_lockstep(data: EvalData, iou_thrs: np.ndarray,
                    det_ids: np.ndarray, det_keys: np.ndarray,
                    det_rank: np.ndarray, gt_ids: np.ndarray,
                    gt_keys: np.ndarray, gt_rank: np.ndarray,
                    tp: np.ndarray, ignored: np.ndarray,
                    det_gt: np.ndarray, gt_det: np.ndarray) -> None:
    """pycocotools' greedy matching (``evaluateImg``) of every (image,
    class) pair at once, filling ``tp``, ``ignored``, ``det_gt``,
    ``gt_det`` in place. Detections come sorted by pair then score, boxes
    by pair, ignored last; ``*_rank`` is the position inside the pair."""
    thrs = np.minimum(iou_thrs, 1 - 1e-10)[None, :, None]  # (1, T, 1)
    pairs = np.intersect1d(det_keys, gt_keys)
    if len(pairs) == 0:
        return
    gt_in = np.isin(gt_keys, pairs)
    gt_pair = np.searchsorted(pairs, gt_keys[gt_in])
    width = int(gt_rank[gt_in].max()) + 1  # most boxes of one pair
    # (pairs, width) boxes of each pair, padded
    slot_gt = np.full((len(pairs), width), -1)
    slot_gt[gt_pair, gt_rank[gt_in]] = gt_ids[gt_in]
    valid = slot_gt >= 0
    slot_boxes = data.gt_boxes[slot_gt.clip(0)]
    slot_crowd = data.gt_ignore[slot_gt.clip(0)] & valid
    slot_area = ((slot_boxes[..., 2] - slot_boxes[..., 0]) *
                 (slot_boxes[..., 3] - slot_boxes[..., 1]))
    matched = np.zeros((len(pairs), len(iou_thrs), width), bool)
    det_in = np.isin(det_keys, pairs)
    det_ids, det_rank = det_ids[det_in], det_rank[det_in]
    det_pair = np.searchsorted(pairs, det_keys[det_in])
    by_step = np.argsort(det_rank, kind='stable')
    bounds = np.searchsorted(det_rank[by_step],
                             np.arange(int(det_rank.max()) + 2))
    last = width - 1
    for step in range(len(bounds) - 1):
        rows = by_step[bounds[step]:bounds[step + 1]]
        pair, dets = det_pair[rows], det_ids[rows]
        boxes = data.det_boxes[dets].astype(np.float64)[:, None]  # (n,1,4)
        gts = slot_boxes[pair]  # (n, width, 4)
        inter = ((np.minimum(boxes[..., 2], gts[..., 2]) -
                  np.maximum(boxes[..., 0], gts[..., 0])).clip(0) *
                 (np.minimum(boxes[..., 3], gts[..., 3]) -
                  np.maximum(boxes[..., 1], gts[..., 1])).clip(0))
        det_area = ((boxes[..., 2] - boxes[..., 0]) *
                    (boxes[..., 3] - boxes[..., 1]))
        crowd = slot_crowd[pair]
        union = np.where(crowd, det_area,
                         det_area + slot_area[pair] - inter)
        ious = np.where(union > 0, inter / np.where(union > 0, union, 1),
                        0.0)
        ious = np.where(valid[pair], ious, -1.0)[:, None]  # (n, 1, width)
        free = (ious >= thrs) & (~matched[pair] | crowd[:, None])
        done = np.zeros((len(rows), len(iou_thrs)), bool)
        for want_crowd, flags in ((False, tp), (True, ignored)):
            cand = free & (crowd[:, None] == want_crowd)
            score = np.where(cand, ious, -1.0)
            col = last - score[..., ::-1].argmax(-1)  # best, later on tie
            hit = cand.any(-1) & ~done  # (n, T)
            row_hit, thr_hit = np.nonzero(hit)
            col_hit = col[row_hit, thr_hit]
            box_hit = slot_gt[pair[row_hit], col_hit]
            matched[pair[row_hit], thr_hit, col_hit] = True
            det_gt[thr_hit, dets[row_hit]] = box_hit
            gt_det[thr_hit, box_hit] = dets[row_hit]
            flags[thr_hit, dets[row_hit]] = True
            done |= hit


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
    groups = _group(data.det_labels, data.num_classes)
    return [ids[matching.kept[ids]] for ids in groups]


def gt_counts(data: EvalData) -> np.ndarray:
    """``(K,)`` non-ignored boxes per class."""
    return np.bincount(data.gt_labels[~data.gt_ignore],
                       minlength=data.num_classes)


def class_precision(data: EvalData, matching: Matching
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, K)`` AP per threshold and class (nan: class without boxes)
    and ``(T, K, R)`` precision at the recall points."""
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
    for name, rows in (('0.5', [_thr_index(matching, 0.5)]),
                       ('0.75', [_thr_index(matching, 0.75)]),
                       ('0.5:0.95', list(range(len(matching.iou_thrs))))):
        classes = per_thr[rows].mean(0)
        with np.errstate(all='ignore'):
            overall = (np.nanmean(classes, 0) if np.isfinite(classes).any()
                       else np.zeros(len(REC_THRS)))
        curves[name] = np.vstack([classes, overall[None]])
    return curves


def _thr_index(matching: Matching, value: float) -> int:
    index = np.flatnonzero(np.isclose(matching.iou_thrs, value))
    if len(index) == 0:
        raise ValueError(f'IoU threshold {value} was not matched; the pass '
                         f'used {matching.iou_thrs.tolist()}')
    return int(index[0])


def _pooled(data: EvalData, matching: Matching, label: Optional[int],
            thr: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Scores (descending) and TP flags at threshold index ``thr`` of the
    kept, non-ignored detections of ``label`` (None: all classes), and
    the number of boxes."""
    keep = matching.kept & ~matching.ignored[thr]
    counts = gt_counts(data)
    if label is not None:
        keep &= data.det_labels == label
        num_gts = int(counts[label])
    else:
        num_gts = int(counts.sum())
    scores = data.det_scores[keep]
    order = np.argsort(-scores, kind='mergesort')
    return scores[order], matching.tp[thr, keep][order], num_gts


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
    scores, tps, num_gts = _pooled(data, matching, label,
                                   _thr_index(matching, iou_thr))
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
    scores, tps, num_gts = _pooled(data, matching, label,
                                   _thr_index(matching, iou_thr))
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
    ``recall``, ``f1`` arrays."""
    scores, tps, num_gts = _pooled(data, matching, label,
                                   _thr_index(matching, iou_thr))
    grid = np.linspace(0, 1, num_points)
    # detections with score >= s: scores are descending
    count = np.searchsorted(-scores, -grid, side='right')
    tp_count = np.r_[0, np.cumsum(tps)][count]
    precision, recall, f1 = _prf(tp_count, count, num_gts)
    return dict(score=grid, precision=precision, recall=recall, f1=f1)


def confusion_matrix(data: EvalData, matching: Matching, score_thr: float,
                     iou_thr: float = 0.5) -> Dict[str, np.ndarray]:
    """The confusion matrix (module docstring).

    Returns:
        dict: ``counts`` ``(K + 1, K + 1)`` int (rows true, columns
        predicted, last background), ``normalized`` (rows divided by their
        sum; empty rows zero) and ``ignored`` (detections left out: their
        only match is an ignored box).
    """
    num_classes = data.num_classes
    counts = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    num_ignored = 0
    for ious, dets, gts in zip(matching.ious, matching.det_index,
                               matching.gt_index):
        keep = (data.det_scores[dets] >= score_thr) & matching.kept[dets]
        rows = np.flatnonzero(keep)
        rows = rows[np.argsort(-data.det_scores[dets[rows]],
                               kind='mergesort')]
        det_labels = data.det_labels[dets]
        gt_labels = data.gt_labels[gts]
        crowd = data.gt_ignore[gts]
        gt_used = crowd.copy()  # ignored boxes take part in no cell
        det_used = np.zeros(len(dets), bool)
        overlaps = ious[rows] >= iou_thr  # (r, G)
        # only detections over some box need the greedy loop
        contested = rows[(overlaps & ~crowd).any(1)]
        for same_class in (True, False):
            for row in contested:
                if det_used[row]:
                    continue
                cand = ~gt_used & (ious[row] >= iou_thr)
                cand &= ((gt_labels == det_labels[row]) if same_class else
                         (gt_labels != det_labels[row]))
                if cand.any():
                    col = int(np.argmax(np.where(cand, ious[row], -1.0)))
                    gt_used[col] = det_used[row] = True
                    counts[gt_labels[col], det_labels[row]] += 1
        free = ~det_used[rows]
        on_crowd = (overlaps & crowd).any(1) & free
        num_ignored += int(on_crowd.sum())
        np.add.at(counts, (num_classes, det_labels[rows[free & ~on_crowd]]),
                  1)
        missed = ~gt_used
        np.add.at(counts, (gt_labels[missed], num_classes), 1)
    totals = counts.sum(1, keepdims=True)
    normalized = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
    return dict(counts=counts, normalized=normalized, ignored=num_ignored)


def tide_errors(data: EvalData, matching: Matching, fg_thr: float = 0.5,
                bg_thr: float = 0.1) -> Dict[str, np.ndarray]:
    """Each kept detection's and box's TIDE type (module docstring).

    Returns:
        dict: ``det_type`` ``(D,)`` str: ``'tp'``, ``'ignored'``, one of
        :data:`TIDE_TYPES` (or ``''`` when not kept); ``det_target``
        ``(D,)`` the box a cls/loc error points at (-1 else);
        ``gt_missed`` ``(G,)`` bool.
    """
    thr = _thr_index(matching, fg_thr)
    det_type = np.full(len(data.det_scores), '', dtype=object)
    target = np.full(len(data.det_scores), -1)
    kept = matching.kept
    tp = matching.tp[thr]
    ign = matching.ignored[thr]
    same, other = matching.iou_same, matching.iou_other
    has_gt = np.bincount(data.gt_image[~data.gt_ignore],
                         minlength=data.num_images)[data.det_image] > 0
    best_any = np.maximum(same, other)
    rules = [
        ('bkg', ~has_gt, None),
        ('loc', (same >= bg_thr) & (same < fg_thr), matching.gt_same),
        ('cls', other >= fg_thr, matching.gt_other),
        ('dupe', same >= fg_thr, None),
        ('bkg', best_any < bg_thr, None),
        ('both', np.ones_like(tp), None),
    ]
    open_ = kept & ~tp & ~ign
    for name, mask, targets in rules:
        hit = open_ & mask
        det_type[hit] = name
        if targets is not None:
            target[hit] = targets[hit]
        open_ &= ~hit
    det_type[kept & tp] = 'tp'
    det_type[kept & ign] = 'ignored'
    covered = np.zeros(len(data.gt_labels), bool)
    covered[matching.det_gt[thr][kept & tp]] = True
    covered[target[target >= 0]] = True
    gt_missed = ~covered & ~data.gt_ignore
    return dict(det_type=det_type, det_target=target, gt_missed=gt_missed)


def _ap50_per_class(data: EvalData, scores: np.ndarray, labels: np.ndarray,
                    tps: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(K,)`` AP of detections given in pycocotools' order (ignored ones
    dropped beforehand)."""
    aps = np.full(data.num_classes, np.nan)
    no_ignored = np.zeros(len(scores), bool)
    for label in range(data.num_classes):
        mask = labels == label
        aps[label] = coco_ap(scores[mask], tps[mask], no_ignored[mask],
                             counts[label])[0]
    return aps


def tide_breakdown(data: EvalData, matching: Matching,
                   errors: Optional[dict] = None, fg_thr: float = 0.5
                   ) -> Dict[str, object]:
    """dAP of each TIDE error type, overall and per class (module
    docstring). ``errors``: :func:`tide_errors`'s result, if at hand.

    Returns:
        dict: ``ap`` (base AP50), ``counts`` (errors per type), ``dap``
        (type -> AP gain), ``class_ap`` ``(K,)`` base AP50 per class and
        ``class_dap`` (type -> ``(K,)``).
    """
    errors = errors if errors is not None else tide_errors(
        data, matching, fg_thr)
    thr = _thr_index(matching, fg_thr)
    det_type, target = errors['det_type'], errors['det_target']
    order = np.concatenate(class_members(data, matching)
                           or [np.zeros(0, int)])
    order = order[det_type[order] != 'ignored']
    base_counts = gt_counts(data)
    scores, labels = data.det_scores[order], data.det_labels[order]
    tps = matching.tp[thr, order]
    base = _ap50_per_class(data, scores, labels, tps, base_counts)
    dap, class_dap, counts = {}, {}, {}
    taken = np.zeros(len(data.gt_labels), bool)
    taken[matching.det_gt[thr][matching.kept & matching.tp[thr]]] = True
    for name in TIDE_TYPES:
        if name == 'missed':
            missed = errors['gt_missed']
            counts[name] = int(missed.sum())
            fixed = _ap50_per_class(
                data, scores, labels, tps, base_counts - np.bincount(
                    data.gt_labels[missed], minlength=data.num_classes))
        else:
            is_error = det_type[order] == name
            counts[name] = int(is_error.sum())
            keep = ~is_error
            new_labels, new_tps = labels.copy(), tps.copy()
            if name in ('cls', 'loc'):
                # by decreasing score, a free target becomes a true positive
                claimed = taken.copy()
                positions = np.flatnonzero(is_error)
                positions = positions[np.argsort(-scores[positions],
                                                 kind='mergesort')]
                for pos in positions:
                    box = target[order[pos]]
                    if not claimed[box]:
                        claimed[box] = True
                        keep[pos] = True
                        new_tps[pos] = True
                        new_labels[pos] = data.gt_labels[box]
            fixed = _ap50_per_class(data, scores[keep], new_labels[keep],
                                    new_tps[keep], base_counts)
        class_dap[name] = np.nan_to_num(fixed - base)
        dap[name] = _nanmean(fixed) - _nanmean(base)
    return dict(ap=_nanmean(base), counts=counts, dap=dap, class_ap=base,
                class_dap=class_dap)


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float('nan')


def image_ap(data: EvalData, matching: Matching,
             iou_thr: float = 0.5) -> np.ndarray:
    """``(I,)`` AP at ``iou_thr`` of each image alone: the mean over the
    classes with (non-ignored) boxes in it of their AP; nan without
    boxes."""
    thr = _thr_index(matching, iou_thr)
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


def eval_data_from_coco(coco, predictions: Sequence[dict],
                        classes: Sequence[str]) -> EvalData:
    """:class:`EvalData` of the images in ``predictions``.

    Args:
        coco: A pycocotools-style ``COCO`` of the ground truth (mmdet's).
        predictions (Sequence[dict]): Per image ``img_id``, ``bboxes``
            ``(K, 4)`` xyxy, ``scores``, ``labels`` (``CocoMetric``'s
            ``pred``; tensors or arrays), optionally ``img_path``.
        classes (Sequence[str]): Class names; labels index them, and they
            name the categories as ``CocoMetric`` maps them.
    """
    cat_ids = coco.get_cat_ids(cat_names=list(classes))
    label_of_cat = {cat_id: label for label, cat_id in enumerate(cat_ids)}
    predictions = sorted(predictions, key=lambda pred: pred['img_id'])
    img_ids = np.array([pred['img_id'] for pred in predictions], np.int64)
    if len(np.unique(img_ids)) != len(img_ids):
        raise ValueError('eval_data_from_coco: an image is predicted twice')
    img_paths, img_sizes = [], []
    gt_image, gt_boxes, gt_labels, gt_ignore, gt_areas = [], [], [], [], []
    det_image, det_boxes, det_scores, det_labels = [], [], [], []
    for index, pred in enumerate(predictions):
        info = coco.imgs[pred['img_id']]
        img_paths.append(pred.get('img_path', info.get('file_name', '')))
        img_sizes.append((info.get('height', 0), info.get('width', 0)))
        for ann in coco.img_ann_map[pred['img_id']]:
            if ann['category_id'] not in label_of_cat:
                continue
            x, y, w, h = ann['bbox']
            gt_image.append(index)
            gt_boxes.append((x, y, x + w, y + h))
            gt_labels.append(label_of_cat[ann['category_id']])
            gt_ignore.append(bool(ann.get('iscrowd', 0)) or
                             bool(ann.get('ignore', False)))
            gt_areas.append(ann.get('area', w * h))
        scores = np.asarray(_numpy(pred['scores']), np.float64).reshape(-1)
        det_image.append(np.full(len(scores), index))
        det_boxes.append(np.asarray(_numpy(pred['bboxes']),
                                    np.float64).reshape(-1, 4))
        det_scores.append(scores)
        det_labels.append(np.asarray(_numpy(pred['labels']),
                                     np.int64).reshape(-1))

    def cat(arrays, shape, dtype):
        return (np.concatenate(arrays).astype(dtype) if arrays else
                np.zeros(shape, dtype))

    return EvalData(
        classes=list(classes), img_ids=img_ids, img_paths=img_paths,
        img_sizes=np.array(img_sizes, np.int64).reshape(-1, 2),
        gt_image=np.array(gt_image, np.int64),
        gt_boxes=np.array(gt_boxes, np.float64).reshape(-1, 4),
        gt_labels=np.array(gt_labels, np.int64),
        gt_ignore=np.array(gt_ignore, bool),
        gt_areas=np.array(gt_areas, np.float64),
        det_image=cat(det_image, (0, ), np.int64),
        det_boxes=cat(det_boxes, (0, 4), np.float64),
        det_scores=cat(det_scores, (0, ), np.float64),
        det_labels=cat(det_labels, (0, ), np.int64))


def _numpy(value):
    """A tensor's numpy array (a numpy array or list as is)."""
    return value.cpu().numpy() if hasattr(value, 'cpu') else value
