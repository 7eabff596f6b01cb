"""Shared pieces of the losses: weighting, reduction and aligned box IoU.

They reproduce mmdet 3.3's ``weight_reduce_loss`` and ``bbox_overlaps(...,
is_aligned=True)`` operation for operation, because our loss classes shadow
mmdet's of the same name and must give the same numbers.
"""
from typing import Optional, Union

import torch
from torch import Tensor

_REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: Optional[str]) -> None:
    """Raise a ValueError unless ``reduction`` is None or a known mode."""
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, '
                         f'got {reduction!r}')


def weight_reduce_loss(loss: Tensor,
                       weight: Optional[Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None
                       ) -> Tensor:
    """Weight an element-wise loss and reduce it.

    Args:
        loss (Tensor): Element-wise loss.
        weight (Tensor, optional): Element-wise weight, broadcast against
            ``loss``. Defaults to None.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        avg_factor (float or Tensor, optional): With ``reduction='mean'``,
            the sum is divided by ``avg_factor`` instead of the number of
            elements. Defaults to None.

    Returns:
        Tensor: The reduced loss (or the weighted loss for ``'none'``).
    """
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        if reduction == 'mean':
            return loss.mean()
        if reduction == 'sum':
            return loss.sum()
        return loss
    if reduction == 'mean':
        # float32 eps as mmdet adds, so an avg_factor of 0 cannot divide by
        # zero and the quotient matches mmdet's bit for bit.
        return loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
    if reduction == 'none':
        return loss
    raise ValueError('avg_factor can not be used with reduction="sum"')


def aligned_box_iou(pred: Tensor,
                    target: Tensor,
                    mode: str = 'iou',
                    eps: float = 1e-6) -> Tensor:
    """IoU or GIoU of each box in ``pred`` with the same row of ``target``.

    Args:
        pred (Tensor): ``(n, 4)`` boxes ``(x1, y1, x2, y2)``.
        target (Tensor): ``(n, 4)`` boxes ``(x1, y1, x2, y2)``.
        mode (str): ``'iou'`` or ``'giou'``. Defaults to ``'iou'``.
        eps (float): Lower bound of the union (and, for GIoU, of the
            enclosing area), so empty boxes do not divide by zero.
            Defaults to 1e-6.

    Returns:
        Tensor: ``(n,)`` IoU (in ``[0, 1]``) or GIoU (in ``[-1, 1]``), in
        ``pred``'s dtype. Float16 boxes are computed in float32, both of
        them: mmdet casts only ``pred``, so its target areas overflow above
        65504 square pixels; below that the numbers agree.
    """
    if pred.dtype == torch.float16:
        return aligned_box_iou(pred.float(), target.float(), mode,
                               eps).half()
    if mode not in ('iou', 'giou'):
        raise ValueError(f"mode must be 'iou' or 'giou', got {mode!r}")
    if pred.shape != target.shape or pred.size(-1) != 4:
        raise ValueError(
            f'pred and target must both be (n, 4) boxes, got '
            f'{tuple(pred.shape)} and {tuple(target.shape)}')
    area_pred = (pred[..., 2] - pred[..., 0]) * (pred[..., 3] - pred[..., 1])
    area_target = (target[..., 2] - target[..., 0]) * (
        target[..., 3] - target[..., 1])
    inter_wh = (torch.min(pred[..., 2:], target[..., 2:]) -
                torch.max(pred[..., :2], target[..., :2])).clamp(min=0)
    overlap = inter_wh[..., 0] * inter_wh[..., 1]
    eps_t = area_pred.new_tensor([eps])
    union = torch.max(area_pred + area_target - overlap, eps_t)
    ious = overlap / union
    if mode == 'iou':
        return ious
    enclose_wh = (torch.max(pred[..., 2:], target[..., 2:]) -
                  torch.min(pred[..., :2], target[..., :2])).clamp(min=0)
    enclose = torch.max(enclose_wh[..., 0] * enclose_wh[..., 1], eps_t)
    return ious - (enclose - union) / enclose


def broadcast_weight(weight: Tensor, loss: Tensor) -> Tensor:
    """Shape a per-sample ``(n,)`` or flattened weight like ``loss``.

    Args:
        weight (Tensor): ``(n,)`` per sample, ``loss``'s shape, or as many
            elements as ``loss`` in another shape.
        loss (Tensor): ``(n, C)`` element-wise loss.

    Returns:
        Tensor: ``weight`` viewed so it broadcasts against ``loss``.
    """
    if weight.shape == loss.shape:
        return weight
    if weight.dim() == 1 and weight.size(0) == loss.size(0):
        return weight.view(-1, 1)
    if weight.numel() == loss.numel():
        return weight.view(loss.size(0), -1)
    raise ValueError(
        f'weight of shape {tuple(weight.shape)} does not fit a loss of '
        f'shape {tuple(loss.shape)}')


def box_loss_weight(pred: Tensor,
                    weight: Optional[Tensor]) -> Optional[Tensor]:
    """Reduce an ``(n, 4)`` weight to the ``(n,)`` of a per-box loss."""
    if weight is not None and weight.dim() > 1:
        if weight.shape != pred.shape:
            raise ValueError(
                f'weight of shape {tuple(weight.shape)} fits neither the '
                f'boxes {tuple(pred.shape)} nor one weight per box')
        weight = weight.mean(-1)
    return weight


def all_zero_weight_loss(pred: Tensor,
                         weight: Optional[Tensor],
                         reduction: Optional[str] = None) -> Optional[Tensor]:
    """A zero loss that keeps the graph when no box has positive weight.

    mmdet returns ``(pred * weight).sum()`` then, instead of a loss that
    would divide by a zero ``avg_factor``; we do the same for equal numbers.
    Like mmdet's IoULoss (not its GIoULoss), pass ``reduction`` to keep the
    element-wise loss for ``'none'``.
    """
    if weight is None or reduction == 'none' or bool((weight > 0).any()):
        return None
    if pred.dim() == weight.dim() + 1:
        weight = weight.unsqueeze(1)
    return (pred * weight).sum()
