"""Recall of the top proposals of each image (``CocoMetric``'s
``proposal_fast``).

mmdet 3.3's ``eval_recalls`` stacks the per-image IoU matrices with
``np.array``; with different box counts per image that ragged array is a
``ValueError`` since numpy 1.24. Ours keeps the matrices in an object
array and takes IoU from :func:`~.iou.box_iou` (float64, where mmdet's
``bbox_overlaps`` computes in float32); the matching, the recall and the
table are mmdet's own (``_recalls``, ``print_recall_summary``).
"""
from typing import List, Sequence

import numpy as np

from .iou import box_iou


def eval_recalls(gts: List[np.ndarray],
                 proposals: List[np.ndarray],
                 proposal_nums: Sequence[int],
                 iou_thrs: Sequence[float],
                 logger=None) -> np.ndarray:
    """Recall of the top proposals of each image, over all ground truth.

    Args:
        gts (list[np.ndarray]): ``(G_i, 4)`` ground-truth boxes per image.
        proposals (list[np.ndarray]): ``(K_i, 4)`` proposals per image by
            decreasing score, or ``(K_i, 5)`` with the score last (then
            sorted here).
        proposal_nums (Sequence[int]): Numbers of top proposals to score.
        iou_thrs (Sequence[float]): IoU thresholds of a match.
        logger (MMLogger, optional): Where the table goes; None prints it.

    Returns:
        np.ndarray: ``(len(proposal_nums), len(iou_thrs))`` recalls.
    """
    from mmdet.evaluation.functional.recall import (
        _recalls,
        print_recall_summary,
        set_recall_param,
    )
    if len(gts) != len(proposals):
        raise ValueError(f'{len(gts)} images with ground truth but '
                         f'{len(proposals)} with proposals')
    proposal_nums, iou_thrs = set_recall_param(proposal_nums, iou_thrs)
    all_ious = np.empty(len(gts), dtype=object)  # ragged: (G_i, k_i)
    for index, (img_gts, img_proposals) in enumerate(zip(gts, proposals)):
        if img_proposals.ndim == 2 and img_proposals.shape[1] == 5:
            img_proposals = img_proposals[np.argsort(
                img_proposals[:, 4])[::-1]]
        num = min(img_proposals.shape[0], proposal_nums[-1])
        if img_gts is None or img_gts.shape[0] == 0:
            all_ious[index] = np.zeros((0, img_proposals.shape[0]),
                                       dtype=np.float32)
        else:
            all_ious[index] = box_iou(img_gts, img_proposals[:num, :4])
    recalls = _recalls(all_ious, proposal_nums, iou_thrs)
    print_recall_summary(recalls, proposal_nums, iou_thrs, logger=logger)
    return recalls
