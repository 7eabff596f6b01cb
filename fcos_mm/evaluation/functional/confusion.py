"""The confusion matrix of the detections above a score threshold.

``(K + 1, K + 1)`` counts, rows the true class (last: background),
columns the predicted class (last: background, i.e. missed). Detections
with score ``>= score_thr``, per image by decreasing score: first matched
within their class (best unmatched box with IoU ``>= iou_thr``), then the
rest to any unmatched box of another class (best IoU). **Each detection
and each box is counted exactly once**: an unmatched detection is a
background row entry (duplicates included), an unmatched box a background
column entry. Detections whose only overlap is an ignored (crowd) box are
left out and counted apart. IoU is the matching pass's
(:attr:`~.matching.Matching.ious`).
"""
from typing import Dict

import numpy as np

from .eval_data import EvalData
from .matching import Matching


def confusion_matrix(data: EvalData, matching: Matching, score_thr: float,
                     iou_thr: float = 0.5) -> Dict[str, np.ndarray]:
    """The confusion matrix (module docstring).

    Returns:
        dict: ``counts`` ``(K + 1, K + 1)`` int (rows true, columns
        predicted, last background), ``normalized`` (rows divided by their
        sum; empty rows zero), ``ignored`` (detections left out: their
        only match is an ignored box) and ``gt_missed`` ``(G,)`` bool: the
        boxes of the background column (no detection above the threshold
        matched them).
    """
    num_classes = data.num_classes
    counts = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    num_ignored = 0
    gt_missed = np.zeros(len(data.gt_labels), bool)
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
        gt_missed[gts[missed]] = True
        np.add.at(counts, (gt_labels[missed], num_classes), 1)
    totals = counts.sum(1, keepdims=True)
    normalized = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
    return dict(counts=counts, normalized=normalized, ignored=num_ignored,
                gt_missed=gt_missed)

