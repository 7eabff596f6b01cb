"""TIDE's error types (Bolya et al., ECCV 2020) and what fixing each gains.

At IoU ``fg_thr`` (0.5) with background threshold ``bg_thr`` (0.1), a
detection that is not a true positive is, in this order: **background**
when its image has no box; **localisation** when ``bg_thr <= IoU <
fg_thr`` with a box of its class; **classification** when ``IoU >=
fg_thr`` with a box of another class; **duplicate** when ``IoU >= fg_thr``
with a box of its class (already taken by a higher score); **background**
when every IoU ``< bg_thr``; else **both** (wrong class and ``bg_thr <=
IoU < fg_thr``). A box no true positive takes and no localisation or
classification error points at is **missed** (at any score: a box that
some detection below a display threshold finds is not missed).

Each type's **dAP** (:func:`tide_breakdown`) is the AP50 gained by fixing
it alone: a classification (localisation) error becomes a true positive
of its box when that box is still free (else it is removed); duplicates,
background and both-errors are removed; missed boxes leave the count of
boxes. Per class, the same with that class's AP50.
"""
from typing import Dict, Optional

import numpy as np

from .ap import class_members, coco_ap, gt_counts
from .eval_data import EvalData
from .matching import Matching, thr_index

#: TIDE's error types, in the report's order.
TIDE_TYPES = ('cls', 'loc', 'both', 'dupe', 'bkg', 'missed')
TIDE_NAMES = dict(cls='classification', loc='localisation',
                  both='both (cls + loc)', dupe='duplicate',
                  bkg='background', missed='missed')


def tide_errors(data: EvalData, matching: Matching, fg_thr: float = 0.5,
                bg_thr: float = 0.1) -> Dict[str, np.ndarray]:
    """Each kept detection's and box's TIDE type (module docstring).

    Returns:
        dict: ``det_type`` ``(D,)`` str: ``'tp'``, ``'ignored'``, one of
        :data:`TIDE_TYPES` (or ``''`` when not kept); ``det_target``
        ``(D,)`` the box a cls/loc error points at (-1 else);
        ``gt_missed`` ``(G,)`` bool.
    """
    thr = thr_index(matching, fg_thr)
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
    thr = thr_index(matching, fg_thr)
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

