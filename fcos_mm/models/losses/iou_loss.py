"""IoU loss (UnitBox, Yu et al. 2016), numerically mmdet 3.3's; the forward
is :class:`~.utils.BoxIoULoss`'s.

Differences from mmdet: none in the numbers (see :mod:`.utils`).
"""
import warnings

from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import BoxIoULoss, aligned_box_iou

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
        """``(n,)`` loss of ``(n, 4)`` boxes and targets (the union's lower
        bound is 1e-6 whatever ``eps``)."""
        ious = aligned_box_iou(pred, target, 'iou').clamp(min=self.eps)
        return _MODES[self.mode](ious)
