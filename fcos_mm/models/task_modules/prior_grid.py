"""The grid of prior points of one input, laid out as the FCOS head lays it
out, and the assignment questions the studies ask of it.

Shape shorthand as in
:mod:`~fcos_mm.models.task_modules.assigners.fcos_point_assigner`: ``L``
levels, level ``l`` an ``H_l x W_l`` grid of stride ``s_l``; ``P = sum_l
H_l * W_l`` points, level-major, row-major inside a level; ``G`` boxes.

Training never needs these (the head has its feature maps and its
``prior_generator``); the FCOS statistics and the evaluation's FCOS
diagnostics do, from an image shape alone, and ask the assigner which
boxes each point could take (:func:`candidate_mask`).
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
from torch import Tensor


def featmap_sizes(img_shape: Tuple[int, int],
                  strides: Sequence[int],
                  pad_size_divisor: int = 32) -> List[Tuple[int, int]]:
    """``(H_l, W_l)`` per level of an ``img_shape`` input padded to
    ``pad_size_divisor``: ResNet and FPN halve with ``ceil``, so level ``l``
    has ``ceil(H / s_l)`` rows."""
    height, width = (math.ceil(side / pad_size_divisor) * pad_size_divisor
                     for side in img_shape[:2])
    return [(math.ceil(height / stride), math.ceil(width / stride))
            for stride in strides]


def grid_points(sizes: Sequence[Tuple[int, int]],
                strides: Sequence[int]) -> List[Tensor]:
    """``(H_l * W_l, 2)`` float32 ``(x, y)`` points per level of feature
    maps of ``sizes``, row-major, as the FCOS head makes them
    (``MlvlPointGenerator``, offset 0.5), on the CPU."""
    generator = MlvlPointGenerator(list(strides), offset=0.5)
    return generator.grid_priors(
        list(sizes), dtype=torch.float32, device='cpu')


def level_of_point(points: Sequence[Tensor]) -> Tensor:
    """``(P,)`` long: the level of each point of per-level ``points``."""
    return torch.cat([
        torch.full((len(level_points), ), level, dtype=torch.long)
        for level, level_points in enumerate(points)
    ])


def candidate_mask(assigner,
                   points: List[Tensor],
                   strides: Sequence[int],
                   gt_bboxes: Tensor,
                   gt_labels: Tensor,
                   num_classes: int,
                   featmap_sizes: Optional[Sequence[Tuple[int, int]]] = None,
                   validate: bool = True) -> Tensor:
    """``(P, G)`` bool: which boxes each point is a candidate of, by the
    gates of ``assigner`` (an ``FCOSPointAssigner``; the other arguments
    are those of its ``assign_batch``).

    Each box is assigned alone: with no other box there is no tie to
    break, so the points it gets are exactly those passing its gates (box
    or centre region, regress range). All boxes go at once, as a batch of
    one-box images.
    """
    alone = assigner.assign_batch(points, strides, list(gt_bboxes[:, None]),
                                  list(gt_labels[:, None]), num_classes,
                                  featmap_sizes, validate=validate)
    return (alone.gt_inds == 0).T
