from .cross_entropy_loss import CrossEntropyLoss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .giou_loss import GIoULoss
from .iou_loss import IoULoss

__all__ = [
    'CrossEntropyLoss', 'FocalLoss', 'GIoULoss', 'IoULoss',
    'sigmoid_focal_loss'
]
