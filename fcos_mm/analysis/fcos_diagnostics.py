"""FCOS diagnostics of an evaluation: which pyramid level each box is
learnt on, the recall per level, and the boxes no level can learn.

The training assigner (that of the head the config's ``model`` builds,
:func:`assigner_from_config`) runs on each evaluated image's boxes, scaled
to the network input as the test pipeline resized it (``scale_factor``)
on the padded grid of that input (``img_shape`` padded to
``pad_size_divisor``), exactly as training would assign them:

* **level** of a box: the level holding most of its positive points (the
  lower on a tie); recall per level uses the matching pass's true
  positives at IoU 0.5.
* **unlearnable** boxes get no positive point at all, for one of three
  reasons, tried in this order:

  - ``'taken'``: alone it would have points, but each of them goes to a
    smaller box (the assigner's smallest-area tie-break);
  - ``'range'``: it has points in its (centre) region, but at no level
    whose regress range holds its ``max(l, t, r, b)``: outside every
    regress range;
  - ``'region'``: no point of any level falls in its region (with centre
    sampling: ``centre +- radius * stride`` clipped to the box), so
    nothing can be positive whatever the ranges.

Crowd and ignored boxes are not assigned (training leaves them out).
"""
import copy
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from fcos_mm.evaluation.functional import EvalData, Matching
from fcos_mm.evaluation.functional import thr_index as _thr_index
from fcos_mm.models.task_modules.assigners.fcos_point_assigner import INF
from fcos_mm.models.task_modules.prior_grid import (
    candidate_mask,
    featmap_sizes,
    grid_points,
    level_of_point,
)

#: Reasons a box is unlearnable (module docstring), in report order.
REASONS = ('taken', 'range', 'region')
REASON_NAMES = dict(taken='taken by smaller boxes',
                    range='outside every regress range',
                    region='no point in its (centre) region')

#: COCO's size names and area bounds.
SIZES = (('small', 0, 32**2), ('medium', 32**2, 96**2),
         ('large', 96**2, float('inf')))


def size_names(areas: np.ndarray) -> np.ndarray:
    """``(G,)`` COCO size name of each area."""
    names = np.full(len(areas), 'large', dtype=object)
    names[areas < SIZES[1][2]] = 'medium'
    names[areas < SIZES[0][2]] = 'small'
    return names


def assign_levels(data: EvalData, img_shapes: np.ndarray,
                  scale_factors: np.ndarray, assigner,
                  strides: Sequence[int], pad_size_divisor: int = 32,
                  chunk: int = 64) -> Dict[str, np.ndarray]:
    """Level, positive points and reason of each box (module docstring).

    Args:
        data (EvalData): The evaluation's boxes (original pixels).
        img_shapes (np.ndarray): ``(I, 2)`` network input ``(h, w)``.
        scale_factors (np.ndarray): ``(I, 2)`` ``(w_scale, h_scale)`` from
            the original image to the input.
        assigner: The training ``FCOSPointAssigner``.
        strides (Sequence[int]): The head's strides, one per level.
        pad_size_divisor (int): The data preprocessor's padding.
        chunk (int): Images per assigner call.

    Returns:
        dict: ``level`` ``(G,)`` (-1: none or ignored), ``positives``
        ``(G, L)`` points per level, ``reason`` ``(G,)`` ('' when
        learnable or ignored).
    """
    # A few thousand points per image: torch's thread pool costs more than
    # it gives (6x slower with 2 threads on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _assign_levels(data, img_shapes, scale_factors, assigner,
                              strides, pad_size_divisor, chunk)
    finally:
        torch.set_num_threads(threads)


def _assign_levels(data, img_shapes, scale_factors, assigner, strides,
                   pad_size_divisor, chunk) -> Dict[str, np.ndarray]:
    """:func:`assign_levels`, in the threads it chose."""
    num_levels = len(strides)
    num_gts = len(data.gt_labels)
    positives = np.zeros((num_gts, num_levels), np.int64)
    reason = np.full(num_gts, '', dtype=object)
    use = ~data.gt_ignore
    boxes = data.gt_boxes.copy()
    scale = np.asarray(scale_factors, np.float64)[data.gt_image]
    boxes[:, 0::2] *= scale[:, :1]
    boxes[:, 1::2] *= scale[:, 1:2]
    shapes = [tuple(int(v) for v in shape) for shape in img_shapes]
    by_image = [np.flatnonzero((data.gt_image == image) & use)
                for image in range(data.num_images)]
    # the same assigner, but every level takes every size
    free = assigner.replace(
        regress_ranges=[(-1, INF)] * len(assigner.regress_ranges))
    for shape in sorted(set(shapes)):
        sizes = featmap_sizes(shape, strides, pad_size_divisor)
        points = grid_points(sizes, strides)
        point_level = level_of_point(points)
        images = [image for image, img_shape in enumerate(shapes)
                  if img_shape == shape and len(by_image[image])]
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            result = assigner.assign_batch(
                points, strides,
                [torch.as_tensor(boxes[by_image[image]], dtype=torch.float32)
                 for image in part],
                [torch.as_tensor(data.gt_labels[by_image[image]])
                 for image in part],
                data.num_classes, sizes, validate=False)
            for row, image in enumerate(part):
                inds = result.gt_inds[row]
                positive = inds >= 0
                counts = torch.bincount(
                    inds[positive] * num_levels + point_level[positive],
                    minlength=len(by_image[image]) * num_levels)
                positives[by_image[image]] = counts.view(
                    -1, num_levels).numpy()
        # why the boxes of this shape without a point have none
        lost = np.concatenate(
            [by_image[image] for image in images] or
            [np.zeros(0, np.int64)])
        lost = lost[positives[lost].sum(1) == 0]
        for start in range(0, len(lost), chunk):
            part = lost[start:start + chunk]
            # each box assigned alone: by the training gates, then by
            # the gates without ranges
            lost_gts = (torch.as_tensor(boxes[part], dtype=torch.float32),
                        torch.as_tensor(data.gt_labels[part]),
                        data.num_classes, sizes)
            has_alone = candidate_mask(assigner, points, strides, *lost_gts,
                                       validate=False).any(0).numpy()
            has_any = candidate_mask(free, points, strides, *lost_gts,
                                     validate=False).any(0).numpy()
            reason[part] = np.where(has_alone, 'taken',
                                    np.where(has_any, 'range', 'region'))
    has = positives.sum(1) > 0
    level = np.where(has, positives.argmax(1), -1)
    return dict(level=level, positives=positives, reason=reason)


def fcos_diagnostics(data: EvalData, matching: Matching,
                     assignment: Dict[str, np.ndarray],
                     strides: Sequence[int],
                     regress_ranges: Sequence[Tuple[float, float]],
                     num_examples: int = 12) -> dict:
    """Recall per level and the unlearnable boxes, counted.

    Args:
        data (EvalData): The evaluation.
        matching (Matching): Its matching pass (recall at IoU 0.5).
        assignment (dict): :func:`assign_levels`'s result.
        strides, regress_ranges: The head's, for the table.
        num_examples (int): Unlearnable boxes listed as examples.

    Returns:
        dict: ``levels`` (a row per level and one for ``'none'``: boxes,
        recalled, recall, median sqrt area), ``unlearnable`` (counts per
        reason, per class x reason, per size x reason), ``examples``
        (box indices, largest first) and ``total`` boxes assigned.
    """
    thr = _thr_index(matching, 0.5)
    recalled = matching.gt_det[thr] >= 0
    use = ~data.gt_ignore
    level = assignment['level']
    reason = assignment['reason']
    sides = np.sqrt(np.maximum(data.gt_areas, 0))
    rows = []
    names = [f'P{int(np.log2(stride))}' for stride in strides]
    for index, name in enumerate(names + ['none']):
        mask = use & (level == (index if index < len(names) else -1))
        count = int(mask.sum())
        rows.append(dict(
            level=name,
            stride=int(strides[index]) if index < len(names) else None,
            regress_range=list(regress_ranges[index])
            if index < len(names) else None,
            boxes=count, recalled=int(recalled[mask].sum()),
            recall=float(recalled[mask].mean()) if count else None,
            median_side=float(np.median(sides[mask])) if count else None))
    lost = use & (level < 0)
    per_reason = {name: int((lost & (reason == name)).sum())
                  for name in REASONS}
    per_class = []
    for label, class_name in enumerate(data.classes):
        mask = lost & (data.gt_labels == label)
        if mask.any():
            per_class.append(dict(
                name=class_name, total=int(mask.sum()),
                boxes=int((use & (data.gt_labels == label)).sum()),
                **{name: int((mask & (reason == name)).sum())
                   for name in REASONS}))
    sizes = size_names(data.gt_areas)
    per_size = []
    for size_name, _, _ in SIZES:
        mask = lost & (sizes == size_name)
        per_size.append(dict(
            name=size_name, total=int(mask.sum()),
            boxes=int((use & (sizes == size_name)).sum()),
            **{name: int((mask & (reason == name)).sum())
               for name in REASONS}))
    examples = np.flatnonzero(lost)
    examples = examples[np.argsort(-data.gt_areas[examples],
                                   kind='stable')][:num_examples]
    return dict(levels=rows, unlearnable=dict(
        total=int(lost.sum()), per_reason=per_reason, per_class=per_class,
        per_size=per_size), examples=examples.tolist(),
        total=int(use.sum()))


def assigner_from_config(cfg) -> Tuple[object, List[int], int]:
    """The training assigner, the head's strides and the preprocessor's
    ``pad_size_divisor`` of a config.

    The assigner is that of the head ``cfg.model.bbox_head`` builds, with
    the model's ``train_cfg`` as the detector hands it over: the head's own
    defaults (strides, :data:`~fcos_mm.models.dense_heads.fcos_head_compat.
    DEFAULT_ASSIGNER`) and its deprecated assigner kwargs hold, so the
    diagnostics assign exactly as training does. The layers play no part: a
    report-only ``bbox_head`` may leave out ``type`` (``FCOSHead``),
    ``num_classes`` and ``in_channels`` (1 each).
    """
    from fcos_mm.registry import MODELS, fcos_mm_scope
    model = cfg.get('model') or {}
    if not model.get('bbox_head'):
        raise ValueError(
            'FCOS diagnostics need the config\'s model.bbox_head (the head '
            'whose assigner training uses); this config has none')
    head_cfg = dict(copy.deepcopy(model['bbox_head']),
                    train_cfg=model.get('train_cfg'),
                    test_cfg=model.get('test_cfg'))
    for key, value in (('type', 'FCOSHead'), ('num_classes', 1),
                       ('in_channels', 1)):
        head_cfg.setdefault(key, value)
    with fcos_mm_scope():
        head = MODELS.build(head_cfg)
    pad = int((model.get('data_preprocessor') or {}).get(
        'pad_size_divisor', 32) or 1)
    return head.assigner, list(head.strides), pad
