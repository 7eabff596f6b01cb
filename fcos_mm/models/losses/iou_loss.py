"""IoU loss (UnitBox, Yu et al. 2016), numerically mmdet 3.3's, and the
base and box IoU it shares with the GIoU loss (:mod:`.giou_loss`).

Shapes: ``n`` boxes ``(x1, y1, x2, y2)``.

Differences from mmdet:
    * :func:`aligned_box_iou` reproduces ``bbox_overlaps(...,
      is_aligned=True)`` operation for operation, except that float16 boxes
      are computed in float32, both of them (mmdet casts only the
      prediction, so its target areas overflow above 65504 square pixels;
      below that the numbers agree).
"""
import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import WeightedLoss


def aligned_box_iou(pred: Tensor,
                    target: Tensor,
                    mode: str = 'iou',
                    eps: float = 1e-6) -> Tensor:
    """``(n,)`` IoU or GIoU, in ``pred``'s dtype, of each box of ``pred``
    with the same row of ``target``.

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


class BoxIoULoss(WeightedLoss):
    """Base of :class:`IoULoss` and :class:`GIoULoss`, which differ only in
    ``box_loss(pred, target)``, the ``(n,)`` loss (and in
    :attr:`zero_weight_reductions`); arguments as in the subclasses."""

    zero_weight_reductions = ('mean', 'sum')

    def __init__(self,
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        self.eps = eps

    def elementwise(self, pred: Tensor, target: Tensor,
                    weight: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(n,)`` loss and weight (``(n, 4)`` weights averaged per box)."""
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise ValueError(
                    f'weight of shape {tuple(weight.shape)} fits neither the '
                    f'boxes {tuple(pred.shape)} nor one weight per box')
            weight = weight.mean(-1)
        return self.box_loss(pred, target), weight


# The loss of each mode as a function of the (clamped) IoU.
_MODES = dict(
    log=lambda ious: -ious.log(),
    linear=lambda ious: 1 - ious,
    square=lambda ious: 1 - ious**2)


@MODELS.register_module()
class IoULoss(BoxIoULoss):
    """IoU loss between predicted and target boxes.

    Args:
        linear (bool): Deprecated alias of ``mode='linear'``.
            Defaults to False.
        eps (float): Lower bound of the IoU, so ``log`` stays finite.
            Defaults to 1e-6.
        reduction (str): See :class:`WeightedLoss`. Defaults to ``'mean'``.
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
        super().__init__(eps, reduction, loss_weight)
        if linear:
            warnings.warn('IoULoss(linear=True) is deprecated, use '
                          "mode='linear'", DeprecationWarning)
            mode = 'linear'
        if mode not in _MODES:
            raise ValueError("IoULoss: mode must be 'log', 'linear' or "
                             f"'square', got {mode!r}")
        self.linear = linear
        self.mode = mode

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """The union's lower bound is 1e-6 whatever ``eps``."""
        ious = aligned_box_iou(pred, target, 'iou').clamp(min=self.eps)
        return _MODES[self.mode](ious)

