"""Cross-entropy loss (sigmoid or softmax), numerically mmdet 3.3's.

FCOS uses the sigmoid form on the center-ness logits with soft targets in
``[0, 1]``; the softmax form is here because this class shadows mmdet's
``CrossEntropyLoss`` in our scope, so a config that asks for it gets it.
"""
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import check_reduction, weight_reduce_loss

# F.cross_entropy's default, used when ignore_index is None.
_IGNORE_INDEX = -100


def _expand_onehot(labels: Tensor, channels: int,
                   ignore_index: int) -> Tuple[Tensor, Tensor]:
    """``(n,)`` labels to ``(n, channels)`` one-hot and validity (float).

    A label of ``channels`` or more (background) is an all-zero row; an
    ignored or negative label is a row of validity 0.
    """
    valid = (labels >= 0) & (labels != ignore_index)
    onehot = labels.new_zeros((labels.size(0), channels))
    rows = torch.nonzero(valid & (labels < channels)).squeeze(1)
    onehot[rows, labels[rows]] = 1
    return onehot, valid.view(-1, 1).expand(-1, channels).float()


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Binary (``use_sigmoid=True``) or softmax cross-entropy.

    Args:
        use_sigmoid (bool): Binary cross-entropy on logits, with targets of
            the prediction's shape (soft targets allowed) or class indices
            to expand to one-hot. Otherwise softmax cross-entropy over
            ``(n, C)`` logits with ``(n,)`` class indices.
            Defaults to False.
        use_mask (bool): mmdet's mask form; not supported here (ask for
            ``type='mmdet.CrossEntropyLoss'``). Defaults to False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        class_weight (List[float], optional): Per-class weight (the
            ``pos_weight`` of the binary form). Defaults to None.
        ignore_index (int, optional): Label to ignore; None means -100.
            Defaults to None.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
        avg_non_ignore (bool): Average over the non-ignored elements only
            when no ``avg_factor`` is given. Defaults to False.
    """

    def __init__(self,
                 use_sigmoid: bool = False,
                 use_mask: bool = False,
                 reduction: str = 'mean',
                 class_weight: Optional[List[float]] = None,
                 ignore_index: Optional[int] = None,
                 loss_weight: float = 1.0,
                 avg_non_ignore: bool = False) -> None:
        super().__init__()
        if use_mask:
            raise ValueError(
                "fcos_mm's CrossEntropyLoss has no mask form; use "
                "type='mmdet.CrossEntropyLoss' for use_mask=True")
        check_reduction(reduction)
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        if (ignore_index is not None and not avg_non_ignore
                and reduction == 'mean'):
            warnings.warn('CrossEntropyLoss: with ignore_index set and '
                          'avg_non_ignore=False the mean also counts the '
                          'ignored elements; set avg_non_ignore=True to '
                          "average as torch's cross_entropy does.")

    def extra_repr(self) -> str:
        """Show the options in the module's repr."""
        return (f'use_sigmoid={self.use_sigmoid}, '
                f'avg_non_ignore={self.avg_non_ignore}')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None) -> Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits, ``(n,)`` / ``(n, C)`` (binary) or
                ``(n, C)`` (softmax).
            label (Tensor): Targets of ``cls_score``'s shape (binary) or
                ``(n,)`` class indices.
            weight (Tensor, optional): Per-sample weights. Defaults to None.
            avg_factor (float or Tensor, optional): Divisor of the summed
                loss for ``'mean'``. Defaults to None.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.
            ignore_index (int, optional): Overrides the ``ignore_index`` of
                the constructor. Defaults to None.

        Returns:
            Tensor: The loss, times ``loss_weight``.
        """
        check_reduction(reduction_override)
        reduction = reduction_override or self.reduction
        if ignore_index is None:
            ignore_index = self.ignore_index
        if ignore_index is None:
            ignore_index = _IGNORE_INDEX
        class_weight = None
        if self.class_weight is not None:
            class_weight = cls_score.new_tensor(self.class_weight)
        if self.use_sigmoid:
            loss, weight, valid = self._binary(cls_score, label, weight,
                                               class_weight, ignore_index)
        else:
            loss = F.cross_entropy(
                cls_score,
                label,
                weight=class_weight,
                reduction='none',
                ignore_index=ignore_index)
            valid = label != ignore_index
            if weight is not None:
                weight = weight.float()
        if avg_factor is None and self.avg_non_ignore and reduction == 'mean':
            # read back only here (a host-device sync), as mmdet does
            avg_factor = valid.sum().item()
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)

    @staticmethod
    def _binary(pred: Tensor, label: Tensor, weight: Optional[Tensor],
                class_weight: Optional[Tensor],
                ignore_index: int) -> Tuple[Tensor, Tensor, Tensor]:
        """Element-wise binary loss, its weight and the valid mask."""
        if pred.dim() != label.dim():
            label, valid = _expand_onehot(label, pred.size(-1),
                                          ignore_index)
        else:
            valid = ((label >= 0) & (label != ignore_index)).float()
        if weight is not None:
            if weight.dim() == 1 and valid.dim() == 2:
                weight = weight.view(-1, 1)
            weight = weight * valid
        else:
            weight = valid
        loss = F.binary_cross_entropy_with_logits(
            pred, label.float(), pos_weight=class_weight, reduction='none')
        return loss, weight.float(), valid
