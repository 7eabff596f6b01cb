"""What the losses share: the ``reduction`` / ``loss_weight`` base, weighting
and reduction, class-index one-hot, aligned box IoU and the IoU-type base.

Shapes: ``n`` predictions (points), ``C`` classes.

Differences from mmdet:
    * Our loss classes shadow mmdet 3.3's of the same names, so
      :meth:`WeightedLoss.weight_reduce` and :func:`aligned_box_iou`
      reproduce its ``weight_reduce_loss`` and ``bbox_overlaps(...,
      is_aligned=True)`` operation for operation: the numbers are mmdet's.
    * Float16 boxes are computed in float32, both of them (mmdet casts only
      the prediction, so its target areas overflow above 65504 square
      pixels; below that the numbers agree).
    * Bad arguments raise a ValueError that names them, where mmdet asserts.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

_REDUCTIONS = ('none', 'mean', 'sum')


def check_reduction(reduction: Optional[str]) -> None:
    """Raise a ValueError unless ``reduction`` is None or a known mode."""
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, '
                         f'got {reduction!r}')


def onehot_labels(labels: Tensor, num_classes: int) -> Tensor:
    """``(n,)`` class indices to ``(n, C)`` one-hot (long), all zeros for
    an index outside ``[0, C)``; unlike ``F.one_hot``, no host read-back."""
    classes = torch.arange(num_classes, device=labels.device)
    return (labels[:, None] == classes).long()


def aligned_box_iou(pred: Tensor,
                    target: Tensor,
                    mode: str = 'iou',
                    eps: float = 1e-6) -> Tensor:
    """``(n,)`` IoU or GIoU, in ``pred``'s dtype, of each ``(n, 4)`` box
    ``(x1, y1, x2, y2)`` of ``pred`` with the same row of ``target``.

    Args:
        pred (Tensor): ``(n, 4)`` boxes.
        target (Tensor): ``(n, 4)`` boxes.
        mode (str): ``'iou'`` or ``'giou'``. Defaults to ``'iou'``.
        eps (float): Lower bound of the union (and of the enclosing area).
            Defaults to 1e-6.
    """
    if pred.dtype == torch.float16:
        return aligned_box_iou(pred.float(), target.float(), mode,
                               eps).half()
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


class WeightedLoss(nn.Module):
    """Base of the losses: ``reduction`` and ``loss_weight``, and the
    forward; a subclass gives :meth:`elementwise`.

    Args:
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
    """

    # Reductions for which forward returns ``(pred * weight).sum()`` when no
    # weight is positive, as mmdet's IoU and GIoU losses do: a zero that
    # keeps the graph.
    zero_weight_reductions: Tuple[str, ...] = ()

    def __init__(self,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction
        self.loss_weight = loss_weight

    def resolve_reduction(self, reduction_override: Optional[str]) -> str:
        """``reduction_override`` (checked) if given, else ``reduction``."""
        check_reduction(reduction_override)
        return reduction_override or self.reduction

    def elementwise(self, pred: Tensor, target: Tensor,
                    weight: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """The element-wise loss and ``weight`` shaped to broadcast on it."""
        raise NotImplementedError

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(n, C)`` logits or ``(n, 4)`` boxes (see the
                subclass's :meth:`elementwise`).
            target (Tensor): Targets of the ``n`` predictions.
            weight (Tensor, optional): ``(n,)`` or element-wise weights.
                Defaults to None.
            avg_factor (float or Tensor, optional): Divisor of the summed
                loss for ``'mean'``. Defaults to None.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss, times ``loss_weight``.
        """
        reduction = self.resolve_reduction(reduction_override)
        if (reduction in self.zero_weight_reductions and weight is not None
                and not bool((weight > 0).any())):
            if pred.dim() == weight.dim() + 1:
                weight = weight.unsqueeze(1)
            return (pred * weight).sum()
        loss, weight = self.elementwise(pred, target, weight)
        return self.weight_reduce(loss, weight, reduction, avg_factor)

    def weight_reduce(self, loss: Tensor, weight: Optional[Tensor],
                      reduction: str,
                      avg_factor: Optional[Union[float, Tensor]]) -> Tensor:
        """Weight ``loss``, reduce it (``'mean'`` divides the sum by
        ``avg_factor`` when given) and scale by ``loss_weight``."""
        if weight is not None:
            loss = loss * weight
        if reduction == 'sum' and avg_factor is not None:
            raise ValueError('avg_factor can not be used with reduction="sum"')
        if reduction == 'sum':
            loss = loss.sum()
        elif reduction == 'mean' and avg_factor is None:
            loss = loss.mean()
        elif reduction == 'mean':
            # the float32 eps keeps an avg_factor of 0 from dividing by 0
            loss = loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
        return self.loss_weight * loss


class BoxIoULoss(WeightedLoss):
    """Base of :class:`IoULoss` and :class:`GIoULoss`, which differ only in
    :meth:`box_loss` (and :attr:`zero_weight_reductions`); arguments as in
    the subclasses."""

    zero_weight_reductions = ('mean', 'sum')

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        self.eps = eps

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """``(n,)`` loss of ``(n, 4)`` boxes against ``(n, 4)`` targets."""
        raise NotImplementedError

    def elementwise(self, pred: Tensor, target: Tensor,
                    weight: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(n,)`` loss of ``(n, 4)`` boxes and weight (``(n, 4)`` weights
        averaged per box)."""
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise ValueError(
                    f'weight of shape {tuple(weight.shape)} fits neither the '
                    f'boxes {tuple(pred.shape)} nor one weight per box')
            weight = weight.mean(-1)
        return self.box_loss(pred, target), weight
