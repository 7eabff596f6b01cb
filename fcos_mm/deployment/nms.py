"""ONNX ``NonMaxSuppression`` as a traceable PyTorch op.

:class:`ONNXNonMaxSuppression` runs mmcv's ``nms`` in PyTorch (eagerly,
and while the TorchScript exporter traces the graph) and is written into the
ONNX graph as the standard ``NonMaxSuppression`` operator (opset >= 10) by
its ``symbolic``. Both sides follow the ONNX semantics:

* ``boxes`` ``(N, B, 4)`` as ``(x1, y1, x2, y2)``; ``scores`` ``(N, C, B)``;
* per image and class, boxes scoring above ``score_threshold`` are taken
  greedily by decreasing score; a box is dropped when its IoU with a taken
  box is above ``iou_threshold``; at most ``max_output_boxes_per_class``
  are taken;
* the result is ``(M, 3)`` int64 ``(batch_index, class_index, box_index)``,
  image-major, class-major, by decreasing score inside a class.
"""
import torch
from mmcv.ops import nms
from torch import Tensor


class ONNXNonMaxSuppression(torch.autograd.Function):
    """``NonMaxSuppression`` of ONNX (see the module docstring)."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor,
                max_output_boxes_per_class: int, iou_threshold: float,
                score_threshold: float) -> Tensor:
        """Greedy NMS per image and class (see the module docstring)."""
        selected = []
        num_imgs, num_classes, _ = scores.shape
        for img_index in range(num_imgs):
            for class_index in range(num_classes):
                cls_scores = scores[img_index, class_index]
                candidates = (cls_scores > score_threshold).nonzero()[:, 0]
                if candidates.numel() == 0:
                    continue
                _, keep = nms(boxes[img_index, candidates].float(),
                              cls_scores[candidates].float(), iou_threshold)
                keep = candidates[keep[:max_output_boxes_per_class]]
                selected.append(
                    torch.stack([
                        torch.full_like(keep, img_index),
                        torch.full_like(keep, class_index), keep
                    ], dim=1))
        if not selected:
            return boxes.new_zeros((0, 3), dtype=torch.long)
        return torch.cat(selected).long()

    @staticmethod
    def symbolic(g, boxes, scores, max_output_boxes_per_class: int,
                 iou_threshold: float, score_threshold: float):
        """The ONNX ``NonMaxSuppression`` node (TorchScript exporter)."""
        max_output, iou, score = (
            g.op('Constant', value_t=torch.tensor([value], dtype=dtype))
            for value, dtype in ((max_output_boxes_per_class, torch.long),
                                 (iou_threshold, torch.float),
                                 (score_threshold, torch.float)))
        return g.op('NonMaxSuppression', boxes, scores, max_output, iou,
                    score)


def onnx_nms(boxes: Tensor, scores: Tensor, max_output_boxes_per_class: int,
             iou_threshold: float, score_threshold: float) -> Tensor:
    """Apply :class:`ONNXNonMaxSuppression` (see its arguments)."""
    return ONNXNonMaxSuppression.apply(boxes, scores,
                                       max_output_boxes_per_class,
                                       iou_threshold, score_threshold)
