"""Generalised IoU loss (Rezatofighi et al., CVPR 2019), numerically mmdet
3.3's; it shares :class:`~.iou_loss.BoxIoULoss` with the IoU loss."""
from torch import Tensor

from fcos_mm.registry import MODELS

from .iou_loss import BoxIoULoss, aligned_box_iou


@MODELS.register_module()
class GIoULoss(BoxIoULoss):
    """``1 - GIoU`` between predicted and target boxes.

    Args:
        eps (float): Lower bound of the union and the enclosing area.
            Defaults to 1e-6.
        reduction (str): See :class:`WeightedLoss`. Defaults to ``'mean'``.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
    """

    zero_weight_reductions = ('none', 'mean', 'sum')

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """``(n,)`` ``1 - GIoU``."""
        return 1 - aligned_box_iou(pred, target, 'giou', eps=self.eps)
