"""Ground truth and detections of a whole evaluation, flattened.

Shape shorthand (all of :mod:`fcos_mm.evaluation.functional`)
-------------------------------------------------------------
* ``I`` images, ``G`` ground-truth boxes, ``D`` detections (all images,
  concatenated), ``K`` classes, ``T`` IoU thresholds (COCO's 0.5:0.95),
  ``R`` = 101 recall points.
* Boxes are ``(x1, y1, x2, y2)`` in the original image's pixels, as
  ``CocoMetric`` evaluates them.
"""
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np


@dataclass
class EvalData:
    """Ground truth and detections of a whole evaluation, flattened.

    Attributes:
        classes (list[str]): ``K`` class names.
        img_ids (np.ndarray): ``(I,)`` COCO image ids, ascending.
        img_paths (list[str]): ``I`` image files ('' when unknown).
        img_sizes (np.ndarray): ``(I, 2)`` original ``(height, width)``.
        gt_image (np.ndarray): ``(G,)`` image index of each box.
        gt_boxes (np.ndarray): ``(G, 4)`` xyxy.
        gt_labels (np.ndarray): ``(G,)`` class index in ``[0, K)``.
        gt_ignore (np.ndarray): ``(G,)`` bool: crowd or ``ignore`` boxes.
        gt_areas (np.ndarray): ``(G,)`` the annotation's ``area``.
        det_image (np.ndarray): ``(D,)`` image index of each detection.
        det_boxes (np.ndarray): ``(D, 4)`` xyxy.
        det_scores (np.ndarray): ``(D,)``.
        det_labels (np.ndarray): ``(D,)`` class index.
    """
    classes: List[str]
    img_ids: np.ndarray
    img_paths: List[str]
    img_sizes: np.ndarray
    gt_image: np.ndarray
    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    gt_ignore: np.ndarray
    gt_areas: np.ndarray
    det_image: np.ndarray
    det_boxes: np.ndarray
    det_scores: np.ndarray
    det_labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_images(self) -> int:
        return len(self.img_ids)



def eval_data_from_coco(coco, predictions: Sequence[dict],
                        classes: Sequence[str]) -> EvalData:
    """:class:`EvalData` of the images in ``predictions``.

    Args:
        coco: A pycocotools-style ``COCO`` of the ground truth (mmdet's).
        predictions (Sequence[dict]): Per image ``img_id``, ``bboxes``
            ``(K, 4)`` xyxy, ``scores``, ``labels`` (``CocoMetric``'s
            ``pred``; tensors or arrays), optionally ``img_path``.
        classes (Sequence[str]): Class names; labels index them, and they
            name the categories as ``CocoMetric`` maps them.
    """
    cat_ids = coco.get_cat_ids(cat_names=list(classes))
    label_of_cat = {cat_id: label for label, cat_id in enumerate(cat_ids)}
    predictions = sorted(predictions, key=lambda pred: pred['img_id'])
    img_ids = np.array([pred['img_id'] for pred in predictions], np.int64)
    if len(np.unique(img_ids)) != len(img_ids):
        raise ValueError('eval_data_from_coco: an image is predicted twice')
    img_paths, img_sizes = [], []
    gt_image, gt_boxes, gt_labels, gt_ignore, gt_areas = [], [], [], [], []
    det_image, det_boxes, det_scores, det_labels = [], [], [], []
    for index, pred in enumerate(predictions):
        info = coco.imgs[pred['img_id']]
        img_paths.append(pred.get('img_path', info.get('file_name', '')))
        img_sizes.append((info.get('height', 0), info.get('width', 0)))
        for ann in coco.img_ann_map[pred['img_id']]:
            if ann['category_id'] not in label_of_cat:
                continue
            x, y, w, h = ann['bbox']
            gt_image.append(index)
            gt_boxes.append((x, y, x + w, y + h))
            gt_labels.append(label_of_cat[ann['category_id']])
            gt_ignore.append(bool(ann.get('iscrowd', 0)) or
                             bool(ann.get('ignore', False)))
            gt_areas.append(ann.get('area', w * h))
        scores = np.asarray(to_numpy(pred['scores']),
                            np.float64).reshape(-1)
        det_image.append(np.full(len(scores), index))
        det_boxes.append(np.asarray(to_numpy(pred['bboxes']),
                                    np.float64).reshape(-1, 4))
        det_scores.append(scores)
        det_labels.append(np.asarray(to_numpy(pred['labels']),
                                     np.int64).reshape(-1))

    def cat(arrays, shape, dtype):
        return (np.concatenate(arrays).astype(dtype) if arrays else
                np.zeros(shape, dtype))

    return EvalData(
        classes=list(classes), img_ids=img_ids, img_paths=img_paths,
        img_sizes=np.array(img_sizes, np.int64).reshape(-1, 2),
        gt_image=np.array(gt_image, np.int64),
        gt_boxes=np.array(gt_boxes, np.float64).reshape(-1, 4),
        gt_labels=np.array(gt_labels, np.int64),
        gt_ignore=np.array(gt_ignore, bool),
        gt_areas=np.array(gt_areas, np.float64),
        det_image=cat(det_image, (0, ), np.int64),
        det_boxes=cat(det_boxes, (0, 4), np.float64),
        det_scores=cat(det_scores, (0, ), np.float64),
        det_labels=cat(det_labels, (0, ), np.int64))


def to_numpy(value):
    """A tensor's numpy array (a numpy array or list as is)."""
    return value.cpu().numpy() if hasattr(value, 'cpu') else value
