"""Deployment: ONNX and OpenVINO export with the post-processing inside
(int8 through NNCF), the onnxruntime- and OpenVINO-backed detectors (one
base, :class:`ExportedDetector`), and fast CPU inference (bf16 where the CPU
has bf16 units, torch.compile).

Importing this package needs none of onnx, onnxruntime, openvino or nncf;
the functions that use them import them.
"""
from fcos_mm.models.detectors.fcos import inference_autocast

from .cpu_inference import (
    PRECISIONS,
    CompiledOrEager,
    bf16_support,
    compile_for_cpu,
    cpu_flags,
    fold_batchnorm,
    prepare_cpu_inference,
    resolve_precision,
)
from .export_model import FCOSExportWrapper
from .exported_detector import ExportedDetector
from .nms import ONNXNonMaxSuppression, onnx_nms
from .onnx_export import (
    OPSETS,
    compare_detections,
    export_onnx,
    pytorch_detections,
)
from .onnxruntime_detector import ONNXRuntimeDetector, create_session
from .openvino_detector import OpenVINODetector
from .openvino_export import calibration_inputs, export_openvino

__all__ = [
    'CompiledOrEager', 'ExportedDetector', 'FCOSExportWrapper',
    'ONNXNonMaxSuppression', 'ONNXRuntimeDetector', 'OPSETS',
    'OpenVINODetector', 'PRECISIONS', 'bf16_support', 'calibration_inputs',
    'compare_detections', 'compile_for_cpu', 'cpu_flags', 'create_session',
    'export_onnx', 'export_openvino', 'fold_batchnorm', 'inference_autocast',
    'onnx_nms', 'prepare_cpu_inference', 'pytorch_detections',
    'resolve_precision'
]
