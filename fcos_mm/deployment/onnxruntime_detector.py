"""A detector backed by an exported ONNX file, run by onnxruntime: the
runtime half of :class:`~fcos_mm.deployment.exported_detector.ExportedDetector`
(which documents the rest).
"""
import os.path as osp
from typing import Optional, Tuple, Union

import numpy as np

from fcos_mm.registry import MODELS

from .exported_detector import ExportedDetector


def create_session(onnx_file: str, num_threads: Optional[int] = None):
    """An onnxruntime CPU session of ``onnx_file`` with ``num_threads``
    intra-op threads (None: onnxruntime's default, one per physical core).
    """
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError(
            'Running an ONNX model needs onnxruntime: `pip install onnx '
            'onnxruntime` (both are in requirements/tests.txt)') from e
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file {onnx_file} does not exist.')
    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])


@MODELS.register_module()
class ONNXRuntimeDetector(ExportedDetector):
    """An exported ``.onnx`` FCOS model run by onnxruntime.

    Args:
        onnx_file (str): File written by ``tools/deployment/export.py``.
        data_preprocessor (dict or nn.Module, optional): The config's
            ``model.data_preprocessor``. Defaults to None.
        num_classes (int, optional): The config's ``bbox_head.num_classes``
            (a file of another model is refused). Defaults to None.
        num_threads (int, optional): onnxruntime intra-op threads.
            Defaults to None (onnxruntime's choice).
        init_cfg (dict, optional): Unused; for the Runner. Defaults to None.
    """

    def __init__(self,
                 onnx_file: str,
                 data_preprocessor: Optional[Union[dict, object]] = None,
                 num_threads: Optional[int] = None,
                 num_classes: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(onnx_file, data_preprocessor, num_classes, init_cfg)
        self.onnx_file = onnx_file
        self.session = create_session(onnx_file, num_threads)
        inputs = self.session.get_inputs()
        self.check_io([node.name for node in inputs], inputs[0].shape)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.check_config(num_classes)

    def infer(self, images: np.ndarray,
              img_shapes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """onnxruntime's ``dets`` and ``labels`` of one chunk."""
        dets, labels = self.session.run(
            None, dict(input=images, img_shapes=img_shapes))
        return dets, labels
