"""mmdet's ``CocoMetric`` with a ``proposal_fast`` that runs on numpy >= 1.24.

The one difference from mmdet: ``metric='proposal_fast'`` (top-N proposal
recall, reported by RPN configs) ends in mmdet 3.3's ``eval_recalls``, which
stacks the per-image IoU matrices with ``np.array``; with different box
counts per image that ragged array is a ``ValueError`` since numpy 1.24. Ours
keeps the matrices in an object array; matching, recall and table are
mmdet's own (``_recalls``, ``print_recall_summary``).
"""
from typing import List, Optional, Sequence

import numpy as np
from mmdet.evaluation.functional.bbox_overlaps import bbox_overlaps
from mmdet.evaluation.functional.recall import (
    _recalls,
    print_recall_summary,
    set_recall_param,
)
from mmdet.evaluation.metrics import CocoMetric as MMDetCocoMetric
from mmengine.logging import MMLogger

from fcos_mm.registry import METRICS


def eval_recalls(gts: List[np.ndarray],
                 proposals: List[np.ndarray],
                 proposal_nums: Sequence[int],
                 iou_thrs: Sequence[float],
                 logger: Optional[MMLogger] = None) -> np.ndarray:
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
            all_ious[index] = bbox_overlaps(img_gts, img_proposals[:num, :4])
    recalls = _recalls(all_ious, proposal_nums, iou_thrs)
    print_recall_summary(recalls, proposal_nums, iou_thrs, logger=logger)
    return recalls


@METRICS.register_module()
class CocoMetric(MMDetCocoMetric):
    """mmdet's ``CocoMetric`` (same name, ``fcos_mm`` scope) whose
    ``proposal_fast`` works with any numpy."""

    def fast_eval_recall(self,
                         results: List[dict],
                         proposal_nums: Sequence[int],
                         iou_thrs: Sequence[float],
                         logger: Optional[MMLogger] = None) -> np.ndarray:
        """mmdet's: ``(len(proposal_nums),)`` recalls averaged over
        ``iou_thrs``, of the per-image ``bboxes`` ``(K, 4)`` (by decreasing
        score, in ``self.img_ids`` order) against ``ann_file``'s boxes less
        crowd and ignored ones; through :func:`eval_recalls`."""
        gt_bboxes = []
        for img_id in self.img_ids:
            anns = self._coco_api.load_anns(
                self._coco_api.get_ann_ids(img_ids=img_id))
            boxes = [[x, y, x + w, y + h]
                     for x, y, w, h in (ann['bbox'] for ann in anns
                                        if not ann.get('ignore', False)
                                        and not ann['iscrowd'])]
            gt_bboxes.append(
                np.array(boxes, dtype=np.float32).reshape(-1, 4))
        recalls = eval_recalls(gt_bboxes,
                               [result['bboxes'] for result in results],
                               proposal_nums, iou_thrs, logger=logger)
        return recalls.mean(axis=1)
