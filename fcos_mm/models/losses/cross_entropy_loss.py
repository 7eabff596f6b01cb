"""Cross-entropy loss (sigmoid or softmax), numerically mmdet 3.3's.

FCOS uses the sigmoid form on the center-ness logits with soft targets in
``[0, 1]``; the softmax form is here because this class shadows mmdet's
``CrossEntropyLoss`` in our scope, so a config that asks for it gets it.

Differences from mmdet:
    * No mask form: ``use_mask=True`` is a ValueError naming
      ``type='mmdet.CrossEntropyLoss'``.
    * Class indices become one-hot by a comparison rather than a
      ``nonzero`` scatter (no host read-back), same numbers.
"""
import warnings
from typing import List, Optional, Union

import torch.nn.functional as F
from torch import Tensor

from fcos_mm.registry import MODELS

from .utils import WeightedLoss, onehot_labels


@MODELS.register_module()
class CrossEntropyLoss(WeightedLoss):
    """Binary (``use_sigmoid=True``) or softmax cross-entropy.

    Args:
        use_sigmoid (bool): Binary cross-entropy (targets of the logits'
            shape, soft allowed, or class indices) instead of softmax.
            Defaults to False.
        use_mask (bool): Must be False. Defaults to False.
        reduction (str): See :class:`WeightedLoss`. Defaults to ``'mean'``.
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
        if use_mask:
            raise ValueError(
                "fcos_mm's CrossEntropyLoss has no mask form; use "
                "type='mmdet.CrossEntropyLoss' for use_mask=True")
        super().__init__(reduction, loss_weight)
        if (ignore_index is not None and not avg_non_ignore
                and reduction == 'mean'):
            warnings.warn('CrossEntropyLoss: with ignore_index set and '
                          'avg_non_ignore=False the mean also counts the '
                          'ignored elements; set avg_non_ignore=True to '
                          "average as torch's cross_entropy does.")
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.class_weight = class_weight
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore

    def extra_repr(self) -> str:
        return (f'use_sigmoid={self.use_sigmoid}, '
                f'avg_non_ignore={self.avg_non_ignore}')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None) -> Tensor:
        """:meth:`WeightedLoss.forward` with an ``ignore_index`` override.

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
            ignore_index (int, optional): Overrides ``ignore_index``.
                Defaults to None.
        """
        reduction = self.resolve_reduction(reduction_override)
        if ignore_index is None:
            ignore_index = self.ignore_index
        if ignore_index is None:  # F.cross_entropy's default
            ignore_index = -100
        class_weight = (None if self.class_weight is None else
                        cls_score.new_tensor(self.class_weight))
        if not self.use_sigmoid:
            loss = F.cross_entropy(
                cls_score, label, class_weight, reduction='none',
                ignore_index=ignore_index)
            valid = label != ignore_index
            if weight is not None:
                weight = weight.float()
        else:
            # Ignored or negative labels are invalid; class indices of C or
            # more (background) give all-zero one-hot rows.
            valid = (label >= 0) & (label != ignore_index)
            if cls_score.dim() != label.dim():
                num_classes = cls_score.size(-1)
                label = onehot_labels(label.masked_fill(~valid, -1),
                                      num_classes)
                valid = valid.view(-1, 1).expand(-1, num_classes)
            valid = valid.float()
            if weight is not None and weight.dim() == 1 and valid.dim() == 2:
                weight = weight.view(-1, 1)
            weight = valid if weight is None else (weight * valid).float()
            loss = F.binary_cross_entropy_with_logits(
                cls_score, label.float(), pos_weight=class_weight,
                reduction='none')
        if avg_factor is None and self.avg_non_ignore and reduction == 'mean':
            # the one host read-back, only for avg_non_ignore
            avg_factor = valid.sum().item()
        return self.weight_reduce(loss, weight, reduction, avg_factor)
