"""A detector backed by an OpenVINO IR (``model.xml`` + ``model.bin``):
the runtime half of
:class:`~fcos_mm.deployment.exported_detector.ExportedDetector` (which
documents the rest).

The precision follows the CPU: ``precision='auto'`` compiles with OpenVINO's
``INFERENCE_PRECISION_HINT`` bf16 where :func:`.cpu_inference.bf16_support`
finds bf16 units (AMX, AVX512-BF16), f32 elsewhere (bf16 would be emulated);
``'f32'`` / ``'bf16'`` force it. An int8 model (``export.py --int8``) runs its
quantised convolutions in int8 whatever the hint; the hint sets the rest.
"""
import os.path as osp
from typing import Dict, Optional, Tuple, Union

import numpy as np

from fcos_mm.registry import MODELS

from .cpu_inference import resolve_precision
from .export_model import INPUT_NAMES
from .exported_detector import ExportedDetector

#: ``rt_info`` section of the IR that holds the export's metadata
#: (``classes``, ``num_classes``, ``max_per_img``, ``dynamic``, ``int8``).
RT_INFO_KEY = 'fcos_mm'


def read_openvino_model(xml_file: str):
    """``openvino.Core`` and the model of ``xml_file``, with clear errors
    for a missing ``openvino`` package, ``.xml`` or ``.bin``."""
    try:
        import openvino as ov
    except ImportError as e:
        raise ImportError(
            'Running an OpenVINO model needs openvino: `pip install -r '
            'requirements/deploy.txt` (or `pip install fcos_mm[deploy]`)'
        ) from e
    if not str(xml_file).endswith('.xml'):
        raise ValueError(f'{xml_file}: an OpenVINO model is a .xml file '
                         '(with its .bin beside it)')
    bin_file = osp.splitext(xml_file)[0] + '.bin'
    for path in (xml_file, bin_file):
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'OpenVINO file {path} does not exist; write the model with '
                'tools/deployment/export.py CONFIG CKPT --format openvino '
                '--out DIR')
    core = ov.Core()
    return core, core.read_model(xml_file)


def openvino_metadata(model) -> Dict[str, str]:
    """The export's metadata stored in ``model``'s ``rt_info``."""
    if not model.has_rt_info([RT_INFO_KEY]):
        return {}
    section = model.get_rt_info()[RT_INFO_KEY]
    return {key: str(value.astype(str)) for key, value in section.items()}


@MODELS.register_module()
class OpenVINODetector(ExportedDetector):
    """An exported ``model.xml`` FCOS model run by OpenVINO on the CPU.

    Args:
        model_file (str): ``model.xml`` written by
            ``tools/deployment/export.py --format openvino``.
        data_preprocessor (dict or nn.Module, optional): The config's
            ``model.data_preprocessor``. Defaults to None.
        precision (str): ``'auto'``, ``'f32'`` or ``'bf16'`` (see the
            module). Defaults to ``'auto'``.
        num_classes (int, optional): The config's ``bbox_head.num_classes``
            (a file of another model is refused). Defaults to None.
        num_threads (int, optional): OpenVINO inference threads. Defaults
            to None (OpenVINO's choice: one per physical core).
        init_cfg (dict, optional): Unused; for the Runner. Defaults to None.
    """

    def __init__(self,
                 model_file: str,
                 data_preprocessor: Optional[Union[dict, object]] = None,
                 precision: str = 'auto',
                 num_threads: Optional[int] = None,
                 num_classes: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(model_file, data_preprocessor, num_classes, init_cfg)
        self.precision, self.precision_note = resolve_precision(precision)
        core, model = read_openvino_model(model_file)
        # a tensor may carry several names (OpenVINO merges an identity
        # Cast's output name into img_shapes)
        self.check_io([
            next((name for name in INPUT_NAMES if name in node.get_names()),
                 node.get_any_name()) for node in model.inputs
        ], [
            dim.get_length() if dim.is_static else None
            for dim in model.inputs[0].get_partial_shape()
        ])
        self.metadata = openvino_metadata(model)
        self.check_config(num_classes)
        config = {
            'INFERENCE_PRECISION_HINT': self.precision,
            'PERFORMANCE_HINT': 'LATENCY'
        }
        if num_threads is not None:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        self.compiled = core.compile_model(model, 'CPU', config)
        self.request = self.compiled.create_infer_request()

    def infer(self, images: np.ndarray,
              img_shapes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """OpenVINO's ``dets`` and ``labels`` of one chunk."""
        results = self.request.infer(
            dict(input=images, img_shapes=img_shapes))
        return (results[self.compiled.output('dets')].copy(),
                results[self.compiled.output('labels')].astype(np.int64))
