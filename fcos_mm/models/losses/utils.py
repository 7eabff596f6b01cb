"""What the losses share: the ``reduction`` / ``loss_weight`` base with its
weighting and reduction, and class-index one-hot.

Shapes: ``n`` predictions (points), ``C`` classes.

Differences from mmdet:
    * Our loss classes shadow mmdet 3.3's of the same names, so
      :meth:`WeightedLoss.weight_reduce` reproduces its
      ``weight_reduce_loss`` operation for operation.
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


class WeightedLoss(nn.Module):
    """Base of the losses: ``reduction``, ``loss_weight`` and the forward. A
    subclass gives ``elementwise(pred, target, weight)``: the element-wise
    loss and the weight shaped to broadcast on it.

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

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(n, C)`` logits or ``(n, 4)`` boxes.
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


def sync_free_loss(loss: nn.Module, pred: Tensor, target: Tensor,
                   weight: Tensor,
                   avg_factor: Optional[Union[float, Tensor]]) -> Tensor:
    """``loss(pred, target, weight=weight, avg_factor=avg_factor)``, without
    the zero-weight guard of a :class:`WeightedLoss` (the IoU losses'):
    that guard reads ``(weight > 0).any()`` back to the host. The caller
    vouches that the element-wise loss is finite where ``weight`` is zero,
    so the weighted sum is already the guard's zero then. Other losses are
    called as they are."""
    if (isinstance(loss, WeightedLoss)
            and loss.reduction in loss.zero_weight_reductions):
        elementwise, weight = loss.elementwise(pred, target, weight)
        return loss.weight_reduce(elementwise, weight, loss.reduction,
                                  avg_factor)
    return loss(pred, target, weight=weight, avg_factor=avg_factor)
