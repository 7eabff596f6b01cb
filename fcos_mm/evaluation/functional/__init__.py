"""How good the detections are, in numpy: one IoU (:mod:`.iou`), one
matching pass (:mod:`.matching`) and what is read from it: COCO AP and
PR curves (:mod:`.ap`), precision / recall / F1 against the score
(:mod:`.score_curves`), the confusion matrix (:mod:`.confusion`), TIDE's
errors (:mod:`.tide`) and proposal recall (:mod:`.recall`).

Nothing here imports torch, a model or the report; shapes and names are
listed in :mod:`.eval_data`.
"""
from .ap import (
                 PR_IOUS,
                 REC_THRS,
                 class_ap,
                 class_members,
                 class_precision,
                 coco_ap,
                 gt_counts,
                 image_ap,
                 pr_curves,
)
from .confusion import confusion_matrix
from .eval_data import EvalData, eval_data_from_coco, to_numpy
from .iou import box_iou, iou
from .matching import (
                       IOU_THRS,
                       Matching,
                       group_positions,
                       match_detections,
                       thr_index,
)
from .recall import eval_recalls
from .score_curves import best_f1, pooled, prf_at, score_curves
from .tide import TIDE_NAMES, TIDE_TYPES, tide_breakdown, tide_errors

__all__ = [
    'IOU_THRS', 'PR_IOUS', 'REC_THRS', 'TIDE_NAMES', 'TIDE_TYPES', 'EvalData',
    'Matching', 'best_f1', 'box_iou', 'class_ap', 'class_members',
    'class_precision', 'coco_ap', 'confusion_matrix', 'eval_data_from_coco',
    'eval_recalls', 'group_positions', 'gt_counts', 'image_ap', 'iou',
    'match_detections', 'pooled', 'pr_curves', 'prf_at', 'score_curves',
    'thr_index', 'tide_breakdown', 'tide_errors', 'to_numpy'
]
