"""Sigmoid focal loss (Lin et al., ICCV 2017), numerically mmdet 3.3's.

Differences from mmdet:
    * Only the sigmoid form exists (``use_sigmoid=False`` is a ValueError,
      not a NotImplementedError at the first forward).
    * Class indices go through mmcv's fused op whenever the logits are on
      CUDA, as in mmdet; elsewhere they become one-hot by a comparison
      rather than ``F.one_hot`` (no host read-back), same numbers; under
      ``torch.compile`` CUDA logits take that pure-torch path too.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import WeightedLoss, onehot_labels


def sigmoid_focal_loss(pred: Tensor,
                       target: Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       activated: bool = False) -> Tensor:
    """``(n, C)`` element-wise sigmoid focal loss in pure torch.

    Args:
        pred (Tensor): ``(n, C)`` logits (probabilities if ``activated``).
        target (Tensor): ``(n, C)`` one-hot (or soft) targets.
        gamma (float): Focusing exponent. Defaults to 2.0.
        alpha (float): Weight of the positives; negatives get
            ``1 - alpha``. Defaults to 0.25.
        activated (bool): ``pred`` holds probabilities. Defaults to False.
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
class FocalLoss(WeightedLoss):
    """Sigmoid focal loss with mmdet's interface.

    Args:
        use_sigmoid (bool): Must be True. Defaults to True.
        gamma (float): Focusing exponent. Defaults to 2.0.
        alpha (float): Weight of the positives. Defaults to 0.25.
        reduction (str): See :class:`WeightedLoss`. Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
        activated (bool): Predictions are probabilities. Defaults to False.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False) -> None:
        if use_sigmoid is not True:
            raise ValueError('FocalLoss: only the sigmoid focal loss exists '
                             '(use_sigmoid=True)')
        super().__init__(reduction, loss_weight)
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
        self.alpha = alpha
        self.activated = activated

    def elementwise(self, pred: Tensor, target: Tensor,
                    weight: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(n, C)`` loss and weight of ``(n, C)`` logits against ``(n,)``
        class indices (``C``: background) or ``(n, C)`` one-hot targets, with
        ``(n,)`` or ``(n, C)`` weights."""
        class_indices = pred.dim() != target.dim()
        # mmcv's op is a C++ extension Dynamo cannot trace: compiled, the
        # pure-torch loss below (same numbers to float rounding) is fused
        if (class_indices and pred.is_cuda and not self.activated
                and not torch.compiler.is_compiling()):
            from mmcv.ops import sigmoid_focal_loss as fused_focal_loss
            loss = fused_focal_loss(pred.contiguous(), target.contiguous(),
                                    self.gamma, self.alpha, None, 'none')
        else:
            if class_indices:
                target = onehot_labels(target, pred.size(1))
            loss = sigmoid_focal_loss(pred, target, self.gamma, self.alpha,
                                      self.activated)
        if weight is not None and weight.shape != loss.shape:
            # per sample, or element-wise in another shape
            if weight.numel() not in (loss.size(0), loss.numel()):
                raise ValueError(
                    f'weight of shape {tuple(weight.shape)} does not fit a '
                    f'loss of shape {tuple(loss.shape)}')
            weight = weight.view(loss.size(0), -1)
        return loss, weight
