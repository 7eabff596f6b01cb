"""What ``tools/deployment/export.py`` does: write an FCOS checkpoint as an
ONNX file (onnxruntime) or an OpenVINO IR (``DIR/model.xml`` + ``.bin``),
post-processing inside, optionally int8 (OpenVINO, NNCF), and check it.

* float exports are compared with PyTorch on one input
  (:func:`~fcos_mm.deployment.onnx_export.compare_detections`);
* an int8 export is judged on the val set instead:
  :func:`fcos_mm.engine.exported_eval.int8_map_report` evaluates the float
  IR and the int8 one with the test runner.
"""
import os
import os.path as osp
from typing import Optional, Tuple

import torch.nn as nn

from .onnx_export import export_onnx
from .openvino_export import calibration_inputs, export_openvino

#: Export formats and the file each writes into ``--out DIR``.
FORMATS = dict(onnx='model.onnx', openvino='model.xml')


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
