"""IoU loss (UnitBox, Yu et al. 2016), numerically mmdet 3.3's."""
import warnings
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
class IoULoss(nn.Module):
    """IoU loss between predicted and target boxes.

    Args:
        linear (bool): Deprecated alias of ``mode='linear'``.
            Defaults to False.
        eps (float): Lower bound of the IoU, so ``log`` stays finite.
            Defaults to 1e-6.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
        mode (str): ``'log'`` (``-log(IoU)``, FCOS's), ``'linear'``
            (``1 - IoU``) or ``'square'`` (``1 - IoU ** 2``).
            Defaults to ``'log'``.
    """

    def __init__(self,
                 linear: bool = False,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 mode: str = 'log') -> None:
        super().__init__()
        if linear:
            warnings.warn('IoULoss(linear=True) is deprecated, use '
                          "mode='linear'", DeprecationWarning)
            mode = 'linear'
        if mode not in ('log', 'linear', 'square'):
            raise ValueError("IoULoss: mode must be 'log', 'linear' or "
                             f"'square', got {mode!r}")
        check_reduction(reduction)
        self.linear = linear
        self.mode = mode
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
        check_reduction(reduction_override)
        reduction = reduction_override or self.reduction
        zero = all_zero_weight_loss(pred, weight, reduction)
        if zero is not None:
            return zero
        weight = box_loss_weight(pred, weight)
        ious = aligned_box_iou(pred, target, 'iou').clamp(min=self.eps)
        if self.mode == 'log':
            loss = -ious.log()
        elif self.mode == 'linear':
            loss = 1 - ious
        else:
            loss = 1 - ious**2
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)
