from .cross_entropy_loss import CrossEntropyLoss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .giou_loss import GIoULoss
from .iou_loss import IoULoss
from .utils import aligned_box_iou, weight_reduce_loss

__all__ = [
    'CrossEntropyLoss', 'FocalLoss', 'GIoULoss', 'IoULoss', 'aligned_box_iou',
    'sigmoid_focal_loss', 'weight_reduce_loss'
]
