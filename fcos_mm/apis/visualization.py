"""Detect and draw: a detector's boxes, class names and scores on image
files (the drawing itself: :mod:`fcos_mm.visualization.detections`)."""
import os
import os.path as osp
from pathlib import Path
from typing import List, Optional, Union

import torch.nn as nn
from mmengine.utils import scandir

from fcos_mm.datasets.image_io import IMG_EXTENSIONS
from fcos_mm.visualization.detections import build_visualizer, draw_result

from .inference import inference_detector


def list_images(source: Union[str, Path]) -> List[str]:
    """The sorted image files of ``source``: one file, or a folder
    searched recursively (FileNotFoundError when there is none)."""
    source = str(source)
    if osp.isfile(source):
        return [source]
    if not osp.isdir(source):
        raise FileNotFoundError(f'Image file or folder {source} does not '
                                'exist.')
    found = sorted(
        osp.join(source, name)
        for name in scandir(source, IMG_EXTENSIONS, recursive=True,
                            case_sensitive=False))
    if not found:
        raise FileNotFoundError(
            f'Folder {source} holds no image ({", ".join(IMG_EXTENSIONS)}).')
    return found


def draw_detections(model: nn.Module, images: List[str], out_dir: str,
                    score_thr: float = 0.3, visualizer=None,
                    results: Optional[List] = None) -> List[str]:
    """Detect objects and write each image with its boxes drawn.

    Args:
        model (nn.Module): A detector from
            :func:`~fcos_mm.apis.init_detector`.
        images (list[str]): Image files.
        out_dir (str): Output folder; each result keeps its image's base
            name with a ``.png`` suffix.
        score_thr (float): Boxes scoring below it are not drawn.
            Defaults to 0.3.
        visualizer (optional): Defaults to :func:`build_visualizer`.
        results (list[DetDataSample], optional): Detections already made
            for ``images``, in order; by default they are made here.

    Returns:
        list[str]: Paths of the written images.
    """
    os.makedirs(out_dir, exist_ok=True)
    if visualizer is None:
        visualizer = build_visualizer(model)
    written = []
    for index, path in enumerate(images):
        result = (results[index] if results is not None else
                  inference_detector(model, path))
        name = osp.splitext(osp.basename(path))[0]
        written.append(draw_result(visualizer, path, result,
                                   osp.join(out_dir, name + '.png'),
                                   score_thr))
    return written


def detections_above(result, score_thr: float,
                     classes: Optional[List[str]] = None) -> List[dict]:
    """``bbox`` (4 floats), ``score``, ``label`` and ``class`` (its name
    in ``classes``, or the label as text) of each box of a
    ``DetDataSample`` scoring at least ``score_thr``, by score."""
    pred = result.pred_instances
    keep = pred.scores >= score_thr
    found = []
    for bbox, score, label in zip(pred.bboxes[keep].tolist(),
                                  pred.scores[keep].tolist(),
                                  pred.labels[keep].tolist()):
        name = classes[label] if classes is not None else str(label)
        found.append(
            dict(bbox=bbox, score=score, label=label, **{'class': name}))
    return sorted(found, key=lambda detection: -detection['score'])
