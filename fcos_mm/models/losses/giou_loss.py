"""Generalised IoU loss (Rezatofighi et al., CVPR 2019), as mmdet 3.3's."""
from typing import Optional, Union

import torch.nn as nn
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import (
    aligned_box_iou,
    all_zero_weight_loss,
    box_loss_weight,
    check_reduction,
    weight_reduce_loss,
)


@MODELS.register_module()
class GIoULoss(nn.Module):
    """``1 - GIoU`` between predicted and target boxes.

    Args:
        eps (float): Lower bound of the union and of the enclosing box's
            area. Defaults to 1e-6.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
    """

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_reduction(reduction)
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(n, 4)`` predicted boxes ``(x1, y1, x2, y2)``.
            target (Tensor): ``(n, 4)`` target boxes.
            weight (Tensor, optional): ``(n,)`` or ``(n, 4)`` weights.
                Defaults to None.
            avg_factor (float or Tensor, optional): Divisor of the summed
                loss for ``'mean'``. Defaults to None.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss, times ``loss_weight``.
        """
        zero = all_zero_weight_loss(pred, weight)
        if zero is not None:
            return zero
        check_reduction(reduction_override)
        reduction = reduction_override or self.reduction
        weight = box_loss_weight(pred, weight)
        loss = 1 - aligned_box_iou(pred, target, 'giou', eps=self.eps)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)
