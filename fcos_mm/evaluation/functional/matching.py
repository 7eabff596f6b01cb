"""The one matching pass of an evaluation (:func:`match_detections`).

For each image the IoU matrix (:func:`~.iou.box_iou`) of its detections
against its boxes is computed **once**; everything else reads it:

* **COCO matching**, pycocotools' ``evaluateImg`` rule at every threshold
  (all image-class pairs in lockstep): per image and class, detections by
  decreasing score (stable), the first ``max_dets`` kept; each takes the
  unmatched box of best IoU ``>= t`` (the later box on a tie),
  crowd/ignored boxes only when no other fits (a detection on one is
  ignored; crowd boxes match any number).
  ``max_dets`` defaults to 1000, the last of ``CocoMetric``'s
  ``proposal_nums``, at which mmdet reports AP50, AP75, AP s/m/l and the
  per-class AP (pycocotools' mAP itself is at 100; FCOS keeps 100 per
  image, so they agree). :func:`~.ap.coco_ap` then accumulates as
  pycocotools does, so the per-class APs and the mAP equal ``COCOeval``'s
  (tests check).
* For each detection, its best IoU with a box of its class and with a box
  of another class (:class:`Matching`), which the error breakdown and the
  confusion matrix read.

Shapes as in :mod:`.eval_data`.
"""
from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np

from .eval_data import EvalData
from .iou import box_iou, iou

#: COCO's IoU thresholds.
IOU_THRS = np.linspace(0.5, 0.95, 10)


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
    #: per-class results computed once and read by several functions
    #: (:func:`~.score_curves.pooled`): (label, threshold index) -> value
    cache: dict = field(default_factory=dict, repr=False, compare=False)


def group_positions(index: np.ndarray, size: int) -> List[np.ndarray]:
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
    det_groups = group_positions(data.det_image, data.num_images)
    gt_groups = group_positions(data.gt_image, data.num_images)
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
        boxes = data.det_boxes[dets][:, None]  # (n, 1, 4)
        crowd = slot_crowd[pair]  # (n, width)
        ious = iou(boxes, slot_boxes[pair], crowd)  # (n, width)
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


def thr_index(matching: Matching, value: float) -> int:
    """The index of IoU threshold ``value`` in ``matching.iou_thrs``
    (ValueError naming the thresholds when it was not matched)."""
    index = np.flatnonzero(np.isclose(matching.iou_thrs, value))
    if len(index) == 0:
        raise ValueError(f'IoU threshold {value} was not matched; the pass '
                         f'used {matching.iou_thrs.tolist()}')
    return int(index[0])
