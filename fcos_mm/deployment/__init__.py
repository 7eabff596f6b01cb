"""Deployment: ONNX export with its post-processing, the onnxruntime-backed
detector, and fast CPU inference (bf16 where the CPU has bf16 units).

Importing this package needs neither onnx nor onnxruntime; the functions
that use them import them.
"""
from fcos_mm.models.detectors.fcos import inference_autocast

from .cpu_inference import (
    bf16_support,
    cpu_flags,
    fold_batchnorm,
    prepare_cpu_inference,
)
from .export_model import FCOSExportWrapper
from .nms import ONNXNonMaxSuppression, onnx_nms
from .onnx_export import (
    OPSETS,
    compare_detections,
    export_onnx,
    pytorch_detections,
)
from .onnxruntime_detector import ONNXRuntimeDetector, create_session

__all__ = [
    'FCOSExportWrapper', 'ONNXNonMaxSuppression', 'ONNXRuntimeDetector',
    'OPSETS', 'bf16_support', 'compare_detections', 'cpu_flags',
    'create_session', 'export_onnx', 'fold_batchnorm', 'inference_autocast',
    'onnx_nms', 'prepare_cpu_inference', 'pytorch_detections'
]
