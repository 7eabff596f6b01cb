"""Small tensor helpers shared by the head and its ONNX export."""
from typing import Optional, Sequence

import torch
from torch import Tensor


def flatten_levels(mlvl_tensors: Sequence[Tensor]) -> Tensor:
    """Per-level ``(N, C, H_l, W_l)`` maps to one ``(N, P, C)`` tensor.

    The one place where a head's per-level outputs are flattened: image-major,
    then levels concatenated level-major, row-major inside a level, the order
    of ``MlvlPointGenerator.grid_priors`` and of the assigner's targets.
    ``P = sum_l H_l * W_l``.

    Args:
        mlvl_tensors (Sequence[Tensor]): One ``(N, C, H_l, W_l)`` tensor per
            level, the same ``N`` and ``C`` for all.

    Returns:
        Tensor: ``(N, P, C)``.
    """
    num_imgs, channels = mlvl_tensors[0].shape[:2]
    return torch.cat(
        [
            # (N, C, H_l, W_l) -> (N, H_l * W_l, C)
            t.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels)
            for t in mlvl_tensors
        ],
        dim=1)


def _topk_size(nms_pre: int, size) -> object:
    """``min(nms_pre, size)``, kept symbolic while exporting to ONNX.

    During export ``size`` (a traced dimension) may be a tensor, and a
    Python ``min`` would freeze the export-time value into the graph.
    """
    if torch.onnx.is_in_onnx_export() and isinstance(size, Tensor):
        return torch.clamp(size, max=nms_pre)
    return min(nms_pre, int(size))


def select_candidates(scores: Tensor, bbox_preds: Tensor,
                      centerness: Optional[Tensor], nms_pre: int) -> tuple:
    """The ``nms_pre`` best (point, class) pairs of one level, per image.

    Tensor ops only, so the ONNX export traces the same selection as the
    PyTorch post-processing. ``n``: points of the level.

    Args:
        scores (Tensor): ``(N, n, C)`` class probabilities.
        bbox_preds (Tensor): ``(N, n, 4)`` distances.
        centerness (Tensor, optional): ``(N, n)`` probabilities.
        nms_pre (int): Pairs to keep; ``<= 0`` keeps all.

    Returns:
        tuple: ``(N, k)`` scores (decreasing), labels and point indices,
        ``(N, k, 4)`` distances, ``(N, k)`` center-ness (None without).
    """
    num_imgs, _, num_classes = scores.shape
    # (N, n * C), index point * C + class: mmdet's order
    scores = scores.reshape(num_imgs, -1)
    # above-threshold pairs outrank the rest, so thresholding the top k
    # keeps what mmdet keeps: the top k of those above the threshold
    if nms_pre > 0:
        scores, inds = scores.topk(
            _topk_size(nms_pre, scores.shape[1]), dim=1)
    else:
        scores, inds = scores.sort(dim=1, descending=True)
    point_inds = torch.div(inds, num_classes, rounding_mode='floor')
    dists = bbox_preds.gather(1, point_inds.unsqueeze(-1).expand(-1, -1, 4))
    if centerness is not None:
        centerness = centerness.gather(1, point_inds)
    return scores, inds % num_classes, point_inds, dists, centerness
