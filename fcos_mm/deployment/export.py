"""What ``tools/deployment/export.py`` does: write an FCOS checkpoint as an
ONNX file (onnxruntime) or an OpenVINO IR (``DIR/model.xml`` + ``.bin``),
post-processing inside, optionally int8 (OpenVINO, NNCF), and check it.

* float exports are compared with PyTorch on one input
  (:func:`~fcos_mm.deployment.onnx_export.compare_detections`);
* an int8 export is judged on the val set instead: :func:`int8_map_report`
  evaluates the float IR and the int8 one (bbox mAP, the config's val
  loader and evaluator) and warns when int8 loses more than
  ``max_drop`` AP points (default 1).
"""
import copy
import os
import os.path as osp
import tempfile
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config

from .onnx_export import export_onnx
from .openvino_export import calibration_inputs, export_openvino

#: Export formats and the file each writes into ``--out DIR``.
FORMATS = dict(onnx='model.onnx', openvino='model.xml')

#: Default of ``--max-map-drop``: int8 AP points lost before a warning.
MAX_MAP_DROP = 1.0


def export_detector(detector: nn.Module,
                    fmt: str,
                    out_dir: str,
                    shape: Tuple[int, int],
                    batch_size: int = 1,
                    dynamic: bool = False,
                    opset: int = 11,
                    calib_images: Optional[int] = None) -> str:
    """Write ``detector`` (with ``cfg``, from ``init_detector``) into
    ``out_dir`` as ``fmt`` (see :data:`FORMATS`); ``calib_images`` (a
    number): int8, calibrated on that many val (else train) images.

    Returns:
        str: The written model file.

    Raises:
        ValueError: An unknown format, or int8 asked for ONNX.
    """
    if fmt not in FORMATS:
        raise ValueError(f'--format {fmt!r}: choose one of {list(FORMATS)}')
    os.makedirs(out_dir, exist_ok=True)
    out_file = osp.join(out_dir, FORMATS[fmt])
    options = dict(shape=shape, batch_size=batch_size, dynamic=dynamic,
                   opset=opset)
    if fmt == 'onnx':
        if calib_images is not None:
            raise ValueError('--int8 needs --format openvino (NNCF '
                             'quantises the OpenVINO model)')
        return export_onnx(detector, out_file, **options)
    calibration = None
    if calib_images is not None:
        calibration = calibration_inputs(
            detector, calib_images, None if dynamic else tuple(shape))
    return export_openvino(
        detector, out_file, calibration=calibration, **options)


def evaluate_map(cfg: Config, model_file: str, work_dir: str,
                 precision: str = 'auto') -> float:
    """bbox mAP of an exported ``model_file`` on ``cfg``'s val set (its
    ``val_dataloader`` / ``val_evaluator``; else the test ones)."""
    from fcos_mm.engine.runner_setup import build_runner, setup_test_cfg

    cfg = copy.deepcopy(cfg)
    if cfg.get('val_dataloader') is not None and cfg.get(
            'val_evaluator') is not None:
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    for part in ('train', 'val'):  # a test-only runner
        for suffix in ('_dataloader', '_cfg', '_evaluator'):
            cfg[part + suffix] = None
    cfg.pop('optim_wrapper', None)
    cfg.pop('param_scheduler', None)
    setup_test_cfg(cfg, model_file, work_dir=work_dir, precision=precision)
    cfg.visualizer = dict(type='DetLocalVisualizer', vis_backends=[])
    metrics = build_runner(cfg, 'none').test()
    key = next((key for key in metrics if key.endswith('bbox_mAP')), None)
    if key is None:
        raise KeyError(f'The evaluator reported no bbox mAP: {metrics}')
    return float(metrics[key])


def int8_map_report(detector: nn.Module,
                    int8_file: str,
                    shape: Tuple[int, int],
                    dynamic: bool = False,
                    precision: str = 'auto',
                    max_drop: float = MAX_MAP_DROP) -> Dict:
    """mAP of the float OpenVINO model (exported into a temporary folder)
    and of ``int8_file`` on the val set, and a warning line when the int8
    model loses more than ``max_drop`` AP points.

    Returns:
        dict: ``fp_map``, ``int8_map`` (0-1), ``drop`` (AP points) and
        ``warning`` (None when within ``max_drop``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        fp_file = export_openvino(
            detector, osp.join(tmp, 'model.xml'), shape=shape,
            dynamic=dynamic)
        fp_map = evaluate_map(detector.cfg, fp_file,
                              osp.join(tmp, 'work_fp'), precision)
        int8_map = evaluate_map(detector.cfg, int8_file,
                                osp.join(tmp, 'work_int8'), precision)
    drop = 100 * (fp_map - int8_map)
    warning = None
    if drop > max_drop:
        warning = (f'WARNING: int8 loses {drop:.1f} AP points (fp '
                   f'{fp_map:.3f} -> int8 {int8_map:.3f}), more than '
                   f'--max-map-drop {max_drop}: calibrate on more images '
                   '(--calib-images) or deploy the float model')
    return dict(fp_map=fp_map, int8_map=int8_map, drop=drop, warning=warning)
