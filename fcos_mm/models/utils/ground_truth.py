"""The one check of ground truth, shared by the head and the assigner.
``G``: boxes of one image; ``B``: boxes of the batch; ``L``: levels."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor


def image_name(img_idx: int,
               batch_img_metas: Optional[Sequence[dict]] = None) -> str:
    """``image 'a.jpg' (batch index 1)`` (its ``img_path`` or ``img_id``)
    or ``image 1 of the batch``."""
    meta = batch_img_metas[img_idx] if batch_img_metas else {}
    img = meta.get('img_path') or meta.get('img_id')
    if img is None:
        return f'image {img_idx} of the batch'
    return f'image {img!r} (batch index {img_idx})'


def check_float_rows(tensors: Sequence[Tensor], width: int, rows: str,
                     names: Sequence[str]) -> None:
    """Raise a ValueError unless every tensor is ``(rows, width)`` floats of
    the first one's dtype; ``names[i]`` names ``tensors[i]``."""
    for tensor, name in zip(tensors, names):
        if (tensor.dim() != 2 or tensor.size(1) != width
                or not tensor.is_floating_point()):
            raise ValueError(
                f'{name} must be ({rows}, {width}) floats, got '
                f'{tensor.dtype} of shape {tuple(tensor.shape)}')
        if tensor.dtype != tensors[0].dtype:
            raise ValueError(f'{name} is {tensor.dtype} but {names[0]} is '
                             f'{tensors[0].dtype}')


def check_ground_truth(batch_gt_bboxes: Sequence[Tensor],
                       batch_gt_labels: Sequence[Tensor],
                       num_classes: int,
                       batch_img_metas: Optional[Sequence[dict]] = None,
                       points: Optional[List[Tensor]] = None) -> None:
    """Raise a ValueError naming the image and the box of bad ground truth.

    Shapes and dtypes are checked on the host, values with one host-device
    synchronisation: a box must be finite with ``x2 > x1`` and ``y2 > y1``,
    a label in ``[0, num_classes)``. Later stages trust what passes.

    Args:
        batch_gt_bboxes (Sequence[Tensor]): Per image ``(G, 4)`` float
            ``(x1, y1, x2, y2)`` boxes.
        batch_gt_labels (Sequence[Tensor]): Per image ``(G,)`` integer
            labels.
        num_classes (int): Number of classes.
        batch_img_metas (Sequence[dict], optional): To name the images
            (:func:`image_name`). Defaults to None.
        points (list[Tensor], optional): Per level ``(H_l * W_l, 2)``
            points, checked finite too. Defaults to None.
    """
    if len(batch_gt_bboxes) != len(batch_gt_labels):
        raise ValueError(f'{len(batch_gt_bboxes)} images of boxes but '
                         f'{len(batch_gt_labels)} of labels')
    check_float_rows(batch_gt_bboxes, 4, 'G', [
        f'{image_name(img_idx, batch_img_metas)}: gt_bboxes'
        for img_idx in range(len(batch_gt_bboxes))
    ])
    for img_idx, (boxes, labels) in enumerate(
            zip(batch_gt_bboxes, batch_gt_labels)):
        if (labels.dim() != 1 or labels.size(0) != boxes.size(0)
                or labels.is_floating_point()):
            raise ValueError(
                f'{image_name(img_idx, batch_img_metas)}: gt_labels must be '
                f'an integer ({boxes.size(0)},) tensor to match gt_bboxes, '
                f'got {labels.dtype} of shape {tuple(labels.shape)}')
    # an empty batch still gets a (0, 4) tensor to check
    boxes = torch.cat(list(batch_gt_bboxes) or [torch.zeros(0, 4)])  # (B, 4)
    labels = torch.cat(list(batch_gt_labels)
                       or [torch.zeros(0, dtype=torch.long)])  # (B,)
    finite = torch.isfinite(boxes).all(dim=1)
    # written so that a NaN coordinate also counts as degenerate
    degenerate = ~((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    bad_label = (labels < 0) | (labels >= num_classes)
    bad = (~finite | degenerate | bad_label).any()
    if points is not None:
        bad = bad | ~torch.isfinite(torch.cat(points)).all().to(bad.device)
    if not bool(bad):
        return
    for lvl, level_points in enumerate(points or []):
        if not bool(torch.isfinite(level_points).all()):
            raise ValueError(f'points[{lvl}] has non-finite coordinates')
    start = 0
    for img_idx, img_boxes in enumerate(batch_gt_bboxes):
        stop = start + img_boxes.size(0)
        for mask, what in (
            (~finite, 'has a NaN or infinite coordinate'),
            (degenerate, 'is degenerate (x2 <= x1 or y2 <= y1)'),
            (bad_label, f'has a label outside [0, {num_classes})'),
        ):
            bad_boxes = mask[start:stop].nonzero().flatten().tolist()
            if bad_boxes:
                box_idx = bad_boxes[0]
                coords = [round(v, 3) for v in img_boxes[box_idx].tolist()]
                raise ValueError(
                    f'{image_name(img_idx, batch_img_metas)}: '
                    f'gt_bboxes[{box_idx}] = {coords} with '
                    f'gt_labels[{box_idx}] = {int(labels[start + box_idx])} '
                    f'{what}; {len(bad_boxes)} such box(es) in this image. '
                    'Fix or filter the annotations (e.g. with '
                    'FilterAnnotations in the pipeline).')
        start = stop


#: Metainfo key of a data sample whose ground truth passed
#: :func:`check_ground_truth` before the batch went to the device (set by
#: :func:`prepare_ground_truth`); the head then trusts it without a sync.
GT_CHECKED = 'gt_checked'


def ground_truth_checked(batch_img_metas: Optional[Sequence[dict]]) -> bool:
    """Whether every image of the batch carries :data:`GT_CHECKED`."""
    return bool(batch_img_metas) and all(
        meta.get(GT_CHECKED, False) for meta in batch_img_metas)


def gt_bucket(num_boxes: int, min_bucket: int = 8) -> int:
    """The padded box count of an image with ``num_boxes`` boxes: the next
    power of two, at least ``min_bucket``; a handful of sizes, so that a
    compiled loss sees few shapes."""
    return max(min_bucket, 1 << max(num_boxes - 1, 0).bit_length())


def prepare_ground_truth(data_samples: Sequence,
                         num_classes: int,
                         pad_to_bucket: bool = False,
                         min_bucket: int = 8,
                         check: bool = True) -> None:
    """Check the ground truth of a batch where it is (the host, before the
    data preprocessor moves it), flag the samples :data:`GT_CHECKED`, and
    optionally pad every image to the batch's :func:`gt_bucket`.

    Padding boxes are ``(0, 0, 0, 0)`` with label ``-1``: the assigner
    never assigns a box of negative label. The samples' ``gt_instances``
    are replaced by ones holding ``bboxes`` (a tensor) and ``labels`` only.

    Args:
        data_samples (Sequence[DetDataSample]): The batch, changed in place.
        num_classes (int): Number of classes.
        pad_to_bucket (bool): Pad as said above. Defaults to False.
        min_bucket (int): Smallest padded count. Defaults to 8.
        check (bool): Check (False: already checked, e.g. only to pad a
            flagged batch; padding again changes nothing). Defaults to True.
    """
    from mmdet.structures.bbox import get_box_tensor
    from mmengine.structures import InstanceData
    boxes = [get_box_tensor(s.gt_instances.bboxes) for s in data_samples]
    labels = [s.gt_instances.labels for s in data_samples]
    if check:
        check_ground_truth(boxes, labels, num_classes,
                           [s.metainfo for s in data_samples])
    bucket = gt_bucket(max((len(b) for b in boxes), default=0), min_bucket)
    for sample, img_boxes, img_labels in zip(data_samples, boxes, labels):
        sample.set_metainfo({GT_CHECKED: True})
        if not pad_to_bucket:
            continue
        pad = bucket - len(img_boxes)
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([img_boxes, img_boxes.new_zeros(pad, 4)]),
            labels=torch.cat([img_labels, img_labels.new_full((pad, ), -1)]))
