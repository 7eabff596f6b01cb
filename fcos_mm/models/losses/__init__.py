from .cross_entropy_loss import CrossEntropyLoss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .iou_loss import GIoULoss, IoULoss

__all__ = [
    'CrossEntropyLoss', 'FocalLoss', 'GIoULoss', 'IoULoss',
    'sigmoid_focal_loss'
]
