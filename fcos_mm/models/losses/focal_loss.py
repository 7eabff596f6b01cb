"""Sigmoid focal loss (Lin et al., ICCV 2017), numerically mmdet 3.3's."""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import broadcast_weight, check_reduction, weight_reduce_loss


def sigmoid_focal_loss(pred: Tensor,
                       target: Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       activated: bool = False) -> Tensor:
    """Element-wise sigmoid focal loss in pure torch.

    Args:
        pred (Tensor): ``(n, C)`` logits, or probabilities when
            ``activated``.
        target (Tensor): ``(n, C)`` one-hot (or soft) targets.
        gamma (float): Focusing exponent. Defaults to 2.0.
        alpha (float): Weight of the positives; negatives get
            ``1 - alpha``. Defaults to 0.25.
        activated (bool): Whether ``pred`` holds probabilities.
            Defaults to False.

    Returns:
        Tensor: ``(n, C)`` loss.
    """
    target = target.type_as(pred)
    prob = pred if activated else pred.sigmoid()
    # 1 - p_t of the paper: the probability given to the wrong answer.
    one_minus_pt = (1 - prob) * target + prob * (1 - target)
    focal_weight = (alpha * target +
                    (1 - alpha) * (1 - target)) * one_minus_pt.pow(gamma)
    if activated:
        bce = F.binary_cross_entropy(pred, target, reduction='none')
    else:
        bce = F.binary_cross_entropy_with_logits(
            pred, target, reduction='none')
    return bce * focal_weight


@MODELS.register_module()
class FocalLoss(nn.Module):
    """Sigmoid focal loss with mmdet's interface and numbers.

    Class-index targets on CUDA go through mmcv's fused
    ``sigmoid_focal_loss`` op (as mmdet does); everything else, CPU included,
    through :func:`sigmoid_focal_loss` on one-hot targets.

    Args:
        use_sigmoid (bool): Must be True: only the sigmoid form exists.
            Defaults to True.
        gamma (float): Focusing exponent. Defaults to 2.0.
        alpha (float): Weight of the positives. Defaults to 0.25.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
        activated (bool): Whether predictions are probabilities rather than
            logits. Defaults to False.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False) -> None:
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError('FocalLoss: only the sigmoid focal loss exists '
                             '(use_sigmoid=True)')
        check_reduction(reduction)
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(n, C)`` logits (probabilities if
                ``activated``).
            target (Tensor): ``(n,)`` class indices, ``C`` meaning
                background, or ``(n, C)`` one-hot targets.
            weight (Tensor, optional): ``(n,)`` per sample or ``(n, C)``
                weights. Defaults to None.
            avg_factor (float or Tensor, optional): Divisor of the summed
                loss for ``'mean'``. Defaults to None.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss, times ``loss_weight``.
        """
        check_reduction(reduction_override)
        reduction = reduction_override or self.reduction
        if pred.dim() == target.dim() or self.activated:
            loss = self._torch_loss(pred, target)
        elif pred.is_cuda:
            from mmcv.ops import sigmoid_focal_loss as fused_focal_loss
            loss = fused_focal_loss(pred.contiguous(), target.contiguous(),
                                    self.gamma, self.alpha, None, 'none')
        else:
            loss = self._torch_loss(pred, target)
        if weight is not None:
            weight = broadcast_weight(weight, loss)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)

    def _torch_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Element-wise loss in pure torch; class indices become one-hot."""
        if pred.dim() != target.dim():
            # (n,) class indices to (n, C) one-hot; index C (background)
            # gives the all-zero row. A comparison, not F.one_hot, which
            # reads the indices' range back to the host.
            classes = torch.arange(pred.size(1), device=target.device)
            target = (target[:, None] == classes).long()
        return sigmoid_focal_loss(pred, target, self.gamma, self.alpha,
                                  self.activated)
