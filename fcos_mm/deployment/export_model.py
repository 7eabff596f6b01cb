"""FCOS as one graph from a padded image batch to padded detections.

:class:`FCOSExportWrapper` is what goes into the ONNX file. It runs the
detector's backbone, neck and head ``forward`` and then, with tensor ops
only, the post-processing of :meth:`FCOSHead.predict_by_feat`:

1. sigmoid, and per level and image the ``nms_pre`` best (point, class)
   pairs: :func:`~fcos_mm.models.utils.select_candidates`, as in PyTorch;
2. box decoding ``(x - l, y - t, x + r, y + b)`` clipped to each image's
   ``img_shape`` (``bbox_preds`` are pixel distances for both
   ``norm_on_bbox`` variants: the head multiplies by the stride itself);
3. class scores at most ``score_thr`` and boxes not wider and taller than
   ``min_bbox_size`` are masked out; the scores are multiplied by the
   center-ness;
4. class-aware NMS with ONNX ``NonMaxSuppression`` on boxes shifted by
   ``label * (max coordinate + 1)``, the shift of mmcv's ``batched_nms``
   (so IoUs round as in PyTorch); ``class_agnostic`` NMS shifts nothing;
5. the ``max_per_img`` best survivors, by decreasing score.

Inputs and outputs (``K = max_per_img``)
----------------------------------------
* ``input``: ``(N, 3, H, W)`` float32, the batch as the data preprocessor
  makes it (normalised, padded with zeros to a common size).
* ``img_shapes``: ``(N, 2)`` float32, ``(height, width)`` of each image
  inside the padded batch (its ``img_shape``): boxes are clipped to it, as
  in PyTorch. An image that fills the input has ``(H, W)``.
* ``dets``: ``(N, K, 5)`` float32 ``(x1, y1, x2, y2, score)`` in input
  pixels (not rescaled to the original image), by decreasing score.
* ``labels``: ``(N, K)`` int64. Rows past an image's last detection are
  padding: score 0, label -1, box zeros.

Differences from the PyTorch path
---------------------------------
* Boxes stay in input pixels; :class:`ONNXRuntimeDetector` divides them by
  ``scale_factor`` afterwards, where PyTorch rescales before NMS and before
  the ``min_bbox_size`` test. NMS is scale-invariant and the configs use
  ``min_bbox_size=0``, so only float rounding differs; a positive
  ``min_bbox_size`` is tested in input pixels here.
* Soft-NMS and other NMS types are not exported (an error says so).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from fcos_mm.models.utils import select_candidates

from .nms import onnx_nms

#: Score of masked candidates, below every real score (>= 0).
_MASKED = -1.0
INPUT_NAMES = ('input', 'img_shapes')
OUTPUT_NAMES = ('dets', 'labels')


class FCOSExportWrapper(nn.Module):
    """An FCOS detector with its post-processing as tensor ops.

    Args:
        detector (nn.Module): An FCOS detector in eval mode.
        test_cfg (dict, optional): Post-processing settings instead of the
            head's ``test_cfg``. Defaults to None.

    Raises:
        ValueError: A test config without ``nms`` / ``max_per_img`` or with
            an NMS type other than ``nms``.
    """

    def __init__(self, detector: nn.Module,
                 test_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.detector = detector
        head = detector.bbox_head
        cfg = dict(head.test_cfg if test_cfg is None else test_cfg)
        for key in ('nms', 'max_per_img'):
            if key not in cfg:
                raise ValueError(f'Export needs test_cfg.{key}, got {cfg}')
        nms_cfg = dict(cfg['nms'])
        nms_type = nms_cfg.get('type', 'nms')
        if nms_type != 'nms':
            raise ValueError(
                f"Only test_cfg.nms.type='nms' exports to ONNX "
                f"NonMaxSuppression, got {nms_type!r}")
        self.nms_pre = int(cfg.get('nms_pre', -1))
        self.score_thr = float(cfg.get('score_thr', 0))
        self.min_bbox_size = float(cfg.get('min_bbox_size', -1))
        self.iou_threshold = float(nms_cfg['iou_threshold'])
        self.class_agnostic = bool(nms_cfg.get('class_agnostic', False))
        self.max_per_img = int(cfg['max_per_img'])
        generator = head.prior_generator
        self.point_offset = float(generator.offset)
        self.point_strides = [tuple(s) for s in generator.strides]

    def _points(self, level: int, height, width,
                device: torch.device) -> Tensor:
        """``(H_l * W_l, 2)`` points ``(x, y)`` as ``grid_priors``."""
        stride_w, stride_h = self.point_strides[level]
        xs = (torch.arange(width, device=device) + self.point_offset) * \
            stride_w  # (W_l,)
        ys = (torch.arange(height, device=device) + self.point_offset) * \
            stride_h  # (H_l,)
        num_rows, num_cols = ys.size(0), xs.size(0)
        xs = xs.float().unsqueeze(0).expand(num_rows, num_cols).reshape(-1)
        ys = ys.float().unsqueeze(1).expand(num_rows, num_cols).reshape(-1)
        return torch.stack([xs, ys], dim=-1)

    def forward(self, images: Tensor,
                img_shapes: Tensor) -> Tuple[Tensor, Tensor]:
        """``dets`` and ``labels`` of a batch (see the module docstring)."""
        cls_scores, bbox_preds, centernesses = self.detector.bbox_head(
            self.detector.extract_feat(images))
        mlvl_points = [
            self._points(level, *score.shape[2:], device=score.device)
            for level, score in enumerate(cls_scores)
        ]
        # (N, K') scores, labels, center-ness; (N, K', 2) points;
        # (N, K', 4) distances
        scores, labels, points, dists, centerness = select_candidates(
            cls_scores, bbox_preds, centernesses, mlvl_points, self.nms_pre)
        num_imgs = scores.size(0)
        # (N, K', 4) boxes (x - l, y - t, x + r, y + b)
        bboxes = torch.cat([points - dists[..., :2], points + dists[..., 2:]],
                           dim=-1)
        # clip to [0, img_shape]: (N, 2) (h, w) -> (N, 1, 4) (w, h, w, h)
        max_xy = img_shapes.float().flip(-1).repeat(1, 2).unsqueeze(1)
        bboxes = torch.min(bboxes.clamp(min=0), max_xy)

        keep = scores > self.score_thr  # (N, K')
        if centerness is not None:
            scores = scores * centerness
        if self.min_bbox_size >= 0:
            keep = keep & (bboxes[..., 2] - bboxes[..., 0] > self.min_bbox_size
                           ) & (bboxes[..., 3] - bboxes[..., 1] >
                                self.min_bbox_size)
        nms_scores = torch.where(keep, scores,
                                 torch.full_like(scores, _MASKED))
        if self.class_agnostic:
            nms_bboxes = bboxes
        else:
            # mmcv's batched_nms: shift each class by max coordinate + 1 of
            # the image's kept boxes (all >= 0 after clipping)
            max_coordinate = torch.where(keep.unsqueeze(-1), bboxes,
                                         torch.zeros_like(bboxes)).reshape(
                                             num_imgs, -1).max(dim=1)[0]
            offsets = labels.to(bboxes.dtype) * (
                max_coordinate.unsqueeze(1) + 1)  # (N, K')
            nms_bboxes = bboxes + offsets.unsqueeze(-1)
        selected = onnx_nms(nms_bboxes, nms_scores.unsqueeze(1),
                            self.max_per_img, self.iou_threshold,
                            _MASKED / 2)  # (M, 3)
        is_selected = torch.zeros_like(nms_scores)
        is_selected[selected[:, 0], selected[:, 2]] = 1.0
        final_scores = torch.where(is_selected > 0, nms_scores,
                                   torch.full_like(nms_scores, _MASKED))

        # K padding candidates, so that top-K exists whatever K' is
        pad = self.max_per_img
        final_scores = torch.cat(
            [final_scores,
             final_scores.new_full((num_imgs, pad), _MASKED)], dim=1)
        bboxes = torch.cat([bboxes, bboxes.new_zeros((num_imgs, pad, 4))],
                           dim=1)
        labels = torch.cat([labels, labels.new_zeros((num_imgs, pad))], dim=1)
        top_scores, top_inds = final_scores.topk(self.max_per_img, dim=1)
        valid = top_scores > _MASKED / 2  # (N, K)
        top_bboxes = bboxes.gather(
            1, top_inds.unsqueeze(-1).expand(-1, -1, 4)) * valid.unsqueeze(-1)
        top_scores = torch.where(valid, top_scores,
                                 torch.zeros_like(top_scores))
        top_labels = torch.where(valid, labels.gather(1, top_inds),
                                 torch.full_like(top_inds, -1))
        dets = torch.cat([top_bboxes, top_scores.unsqueeze(-1)], dim=-1)
        return dets, top_labels
