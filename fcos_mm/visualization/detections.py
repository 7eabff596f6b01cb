"""Detections drawn on their image with the config's visualizer (mmdet's
``DetLocalVisualizer`` by default): boxes, class names and scores."""
import os.path as osp

from fcos_mm.datasets.image_io import decode_image
from fcos_mm.registry import VISUALIZERS


def build_visualizer(model):
    """The visualizer of ``model.cfg`` (mmdet's ``DetLocalVisualizer`` by
    default), knowing the model's classes and palette (``model``: from
    :func:`~fcos_mm.apis.init_detector`)."""
    cfg = model.cfg.get(
        'visualizer', dict(type='DetLocalVisualizer', name='visualizer'))
    visualizer = VISUALIZERS.build(cfg)
    visualizer.dataset_meta = model.dataset_meta
    return visualizer


def draw_result(visualizer, path: str, result, out_file: str,
                score_thr: float = 0.3) -> str:
    """Draw ``result`` (a ``DetDataSample``) on the image file ``path``
    into ``out_file``: boxes scoring ``>= score_thr``, drawn on the pixels
    the model saw (EXIF orientation, alpha over white, the tolerant
    decoder for truncated files). Returns ``out_file``."""
    with open(path, 'rb') as f:
        img = decode_image(f.read())[0][..., ::-1]
    name = osp.splitext(osp.basename(path))[0]
    visualizer.add_datasample(name, img, data_sample=result, draw_gt=False,
                              show=False, pred_score_thr=score_thr,
                              out_file=out_file)
    return out_file
