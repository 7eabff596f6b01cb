"""Post-processing of a dense point head, as mmdet's but batched.

``N``: images; ``C``: classes; ``L``: levels, level ``l`` with ``H_l x W_l``
points; ``K``: candidates of one image kept for NMS (at most ``nms_pre`` per
level).

Differences from mmdet
----------------------
mmdet's ``BaseDenseHead.predict_by_feat`` loops over images and levels;
here all but NMS runs on the whole batch at once (faster on GPU), and only
NMS per image. The kept detections are the same.
"""
from typing import List, Optional

import torch
from mmcv.ops import batched_nms
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptConfigType
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import image_name, select_candidates


class BatchedPredictMixin:
    """``predict_by_feat`` for a head with ``prior_generator``,
    ``bbox_coder`` and ``test_cfg``, whose outputs are ``(cls_scores,
    bbox_preds, centernesses)`` (``centernesses`` None when absent)."""

    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        centernesses: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: OptConfigType = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """Post-process the head's outputs into detections, as mmdet does.

        Per level and image keep the class scores above ``score_thr``, of
        those the ``nms_pre`` highest (``<= 0``: all); decode and clip to
        ``img_shape``; with ``rescale`` divide by ``scale_factor``; multiply
        by the center-ness; drop boxes not wider and taller than
        ``min_bbox_size`` (if >= 0); class-wise NMS; keep ``max_per_img``.

        Args:
            cls_scores (list[Tensor]): Per level ``(N, C, H_l, W_l)``.
            bbox_preds (list[Tensor]): Per level ``(N, 4, H_l, W_l)``.
            centernesses (list[Tensor], optional): Per level
                ``(N, 1, H_l, W_l)``. Defaults to None.
            batch_img_metas (list[dict], optional): ``img_shape`` (and
                ``scale_factor`` to rescale) of each image.
            cfg (dict, optional): Overrides ``test_cfg``. Defaults to None.
            rescale (bool): Boxes in original-image pixels. Defaults to False.
            with_nms (bool): Run NMS and ``max_per_img``. Defaults to True.

        Returns:
            list[InstanceData]: Per image ``bboxes`` ``(n, 4)``, ``scores``
            and ``labels`` ``(n,)``, by decreasing score after NMS.
        """
        cfg = self.test_cfg if cfg is None else cfg
        if cfg is None:
            raise ValueError(
                f'{type(self).__name__} needs a test_cfg (or cfg) to predict')
        if batch_img_metas is None:
            raise ValueError('predict_by_feat needs batch_img_metas')
        needed = ('img_shape', 'scale_factor') if rescale else ('img_shape', )
        for img_idx, meta in enumerate(batch_img_metas):
            missing = ', '.join(key for key in needed if key not in meta)
            if missing:
                raise ValueError(
                    'predict_by_feat: the metainfo of '
                    f'{image_name(img_idx, batch_img_metas)} lacks {missing}'
                    f'{" (needed to rescale)" if rescale else ""}')
        nms_pre = cfg.get('nms_pre', -1)
        min_bbox_size = cfg.get('min_bbox_size', -1)
        mlvl_points = self.prior_generator.grid_priors(
            [score.shape[-2:] for score in cls_scores], dtype=torch.float32,
            device=cls_scores[0].device)
        with torch.no_grad():
            # (N, K) scores, labels, factors; (N, K, 2) points; (N, K, 4)
            scores, labels, points, dists, factors = select_candidates(
                cls_scores, bbox_preds, centernesses, mlvl_points, nms_pre)
            keep = scores > cfg.get('score_thr', 0)  # (N, K)
            bboxes = get_box_tensor(self.bbox_coder.decode(
                points, dists,
                max_shape=[meta['img_shape'] for meta in batch_img_metas]))
            if rescale:
                bboxes = bboxes * bboxes.new_tensor([
                    [1 / s for s in meta['scale_factor']] * 2
                    for meta in batch_img_metas
                ]).unsqueeze(1)  # (N, 1, 4)
            if factors is not None:
                scores = scores * factors
            if min_bbox_size >= 0:
                keep &= (bboxes[..., 2] - bboxes[..., 0] > min_bbox_size) & (
                    bboxes[..., 3] - bboxes[..., 1] > min_bbox_size)

            results_list = []
            for img_idx in range(len(batch_img_metas)):
                img_keep = keep[img_idx]
                results = InstanceData(
                    bboxes=bboxes[img_idx][img_keep],
                    scores=scores[img_idx][img_keep],
                    labels=labels[img_idx][img_keep])
                if with_nms and results.bboxes.numel() > 0:
                    dets, nms_keep = batched_nms(results.bboxes,
                                                 results.scores,
                                                 results.labels, cfg['nms'])
                    results = results[nms_keep]
                    # an NMS variant may re-score (e.g. soft-NMS)
                    results.scores = dets[:, -1]
                    results = results[:cfg['max_per_img']]
                results_list.append(results)
        return results_list
