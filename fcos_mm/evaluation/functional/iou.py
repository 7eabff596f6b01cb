"""The one IoU of the evaluation: xyxy boxes, pycocotools' rule.

Every other module (the matching pass, the greedy COCO matching, the
confusion matrix, proposal recall) reads IoU from here.
"""
from typing import Optional

import numpy as np


def iou(boxes1: np.ndarray, boxes2: np.ndarray,
        crowd: Optional[np.ndarray] = None) -> np.ndarray:
    """IoU of ``boxes1`` and ``boxes2`` broadcast against each other.

    pycocotools' rule: for a crowd box the union is the first box's area
    alone; a zero union gives 0. Computed in float64.

    Args:
        boxes1 (np.ndarray): ``(..., 4)`` xyxy (the detections).
        boxes2 (np.ndarray): ``(..., 4)`` xyxy, broadcastable with
            ``boxes1`` (the ground truth).
        crowd (np.ndarray, optional): bool, broadcastable with the result:
            ``boxes2`` is a crowd box.

    Returns:
        np.ndarray: The broadcast shape less the last axis.
    """
    boxes1 = np.asarray(boxes1, dtype=np.float64)
    boxes2 = np.asarray(boxes2, dtype=np.float64)
    width = (np.minimum(boxes1[..., 2], boxes2[..., 2]) -
             np.maximum(boxes1[..., 0], boxes2[..., 0])).clip(0)
    height = (np.minimum(boxes1[..., 3], boxes2[..., 3]) -
              np.maximum(boxes1[..., 1], boxes2[..., 1])).clip(0)
    inter = width * height
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] -
                                                 boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] -
                                                 boxes2[..., 1])
    union = area1 + area2 - inter
    if crowd is not None:
        union = np.where(crowd, area1, union)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_iou(dets: np.ndarray, gts: np.ndarray,
            crowd: Optional[np.ndarray] = None) -> np.ndarray:
    """``(D, G)`` IoU of every detection ``(D, 4)`` with every box
    ``(G, 4)`` (xyxy); ``crowd`` ``(G,)`` bool marks crowd boxes."""
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 4)
    gts = np.asarray(gts, dtype=np.float64).reshape(-1, 4)
    if len(dets) == 0 or len(gts) == 0:
        return np.zeros((len(dets), len(gts)))
    return iou(dets[:, None], gts[None],
               None if crowd is None else np.asarray(crowd, bool)[None])
