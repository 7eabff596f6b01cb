"""Small tensor helpers shared by the head and its ONNX export."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor


def flatten_levels(mlvl_tensors: Sequence[Tensor]) -> Tensor:
    """Per-level ``(N, C, H_l, W_l)`` maps to one ``(N, P, C)`` tensor,
    ``P = sum_l H_l * W_l`` in ``MlvlPointGenerator.grid_priors`` order."""
    num_imgs, channels = mlvl_tensors[0].shape[:2]
    return torch.cat([
        level_tensor.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels)
        for level_tensor in mlvl_tensors
    ], dim=1)


def _topk_size(nms_pre: int, size) -> object:
    """``min(nms_pre, size)``, kept symbolic for a traced ``size`` while
    exporting to ONNX (a Python ``min`` would freeze it into the graph)."""
    if torch.onnx.is_in_onnx_export() and isinstance(size, Tensor):
        return torch.clamp(size, max=nms_pre)
    return min(nms_pre, int(size))


def select_candidates(cls_scores: List[Tensor], bbox_preds: List[Tensor],
                      centernesses: Optional[List[Tensor]],
                      mlvl_points: List[Tensor], nms_pre: int) -> tuple:
    """The ``nms_pre`` best (point, class) pairs of each level, per image.

    Tensor ops only, so the ONNX export traces the selection that the
    PyTorch post-processing runs. ``K``: pairs kept over all levels.

    Args:
        cls_scores (list[Tensor]): Per level ``(N, C, H_l, W_l)`` logits.
        bbox_preds (list[Tensor]): Per level ``(N, 4, H_l, W_l)``.
        centernesses (list[Tensor], optional): Per level
            ``(N, 1, H_l, W_l)`` logits.
        mlvl_points (list[Tensor]): Per level ``(H_l * W_l, 2)`` points.
        nms_pre (int): Pairs to keep per level; ``<= 0`` keeps all.

    Returns:
        tuple: ``(N, K)`` probabilities (decreasing within a level), labels,
        ``(N, K, 2)`` points, ``(N, K, 4)`` distances, ``(N, K)`` center-ness
        probabilities or None.
    """
    candidates = []
    for level_idx, (cls_score, bbox_pred, points) in enumerate(
            zip(cls_scores, bbox_preds, mlvl_points)):
        num_imgs, num_classes = cls_score.shape[:2]
        # (N, H_l * W_l * C), index point * C + class: mmdet's order
        scores = cls_score.permute(0, 2, 3, 1).reshape(
            num_imgs, -1).float().sigmoid()
        # above-threshold pairs outrank the rest, so thresholding the top k
        # keeps what mmdet keeps: the top k of those above the threshold
        if nms_pre > 0:
            scores, inds = scores.topk(
                _topk_size(nms_pre, scores.shape[1]), dim=1)
        else:
            scores, inds = scores.sort(dim=1, descending=True)
        point_inds = torch.div(inds, num_classes, rounding_mode='floor')
        dists = bbox_pred.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4).float(
        ).gather(1, point_inds.unsqueeze(-1).expand(-1, -1, 4))
        centerness = None
        if centernesses is not None:
            centerness = centernesses[level_idx].reshape(
                num_imgs, -1).float().sigmoid().gather(1, point_inds)
        candidates.append((scores, inds % num_classes, points[point_inds],
                           dists, centerness))
    return tuple(
        torch.cat(parts, dim=1) if parts[0] is not None else None
        for parts in zip(*candidates))
