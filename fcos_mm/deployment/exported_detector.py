"""An exported graph (:mod:`.export_model`) as an mmengine detector.

:class:`ExportedDetector` holds what every runtime shares: ``test_step``
runs the data preprocessor in PyTorch, then the graph (``input``,
``img_shapes`` -> ``dets``, ``labels``) in the runtime, and returns
``DetDataSample`` objects as the PyTorch detector does (boxes in original
image pixels), so :func:`~fcos_mm.apis.inference_detector` and the Runner of
``tools/test.py`` use it unchanged. A runtime subclass opens the file, sets
``static_batch`` / ``static_hw`` / ``metadata`` and implements
:meth:`ExportedDetector.infer` (onnxruntime: :mod:`.onnxruntime_detector`,
OpenVINO: :mod:`.openvino_detector`).

A static-shape export still takes any batch: images run ``batch`` at a time
(the last chunk filled with blank images), and a smaller input is padded with
zeros as the data preprocessor pads; a larger one is refused.
"""
import json
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from .export_model import INPUT_NAMES

#: The files of an exported model: ONNX (onnxruntime), OpenVINO IR.
EXPORTED_SUFFIXES = ('.onnx', '.xml')


def exported_model_cfg(config, model_file: str,
                       precision: str = 'auto') -> dict:
    """The model config of an exported ``.onnx`` (onnxruntime) or ``.xml``
    (OpenVINO) file, with ``config``'s data preprocessor and class count."""
    common = dict(data_preprocessor=config.model.get('data_preprocessor'))
    num_classes = (config.model.get('bbox_head') or {}).get('num_classes')
    if num_classes is not None:
        common['num_classes'] = num_classes
    if str(model_file).endswith('.onnx'):
        return dict(type='ONNXRuntimeDetector', onnx_file=model_file,
                    **common)
    return dict(type='OpenVINODetector', model_file=model_file,
                precision=precision, **common)


def static_dim(dim) -> Optional[int]:
    """``dim`` if it is a fixed positive size, else None (symbolic)."""
    return dim if isinstance(dim, int) and dim > 0 else None


class ExportedDetector(BaseModel):
    """An exported FCOS model behind the PyTorch detector's interface.

    Args:
        model_file (str): The exported file (``.onnx``, ``model.xml``).
        data_preprocessor (dict or nn.Module, optional): The config's
            ``model.data_preprocessor``. Defaults to None.
        num_classes (int, optional): The config's ``bbox_head.num_classes``,
            checked against the file's (see :meth:`check_config`) by the
            subclass once the file is open. Defaults to None.
        init_cfg (dict, optional): Unused; for the Runner. Defaults to None.
    """

    #: Set by subclasses once the file is open.
    static_batch: Optional[int] = None
    static_hw: Tuple[Optional[int], Optional[int]] = (None, None)

    def __init__(self,
                 model_file: str,
                 data_preprocessor: Optional[Union[dict, object]] = None,
                 num_classes: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.model_file = model_file
        self.num_classes = num_classes
        self.metadata: Dict[str, str] = {}

    def check_config(self, num_classes: Optional[int] = None,
                     classes: Optional[Sequence[str]] = None) -> None:
        """Refuse a file exported from another config: its stored
        ``num_classes`` / ``classes`` must be the config's (when both are
        known)."""
        stored = self.metadata.get('num_classes')
        if num_classes is not None and stored is not None and int(
                stored) != int(num_classes):
            raise ValueError(
                f'{self.model_file} was exported from a model with {stored} '
                f'classes but the config has bbox_head.num_classes='
                f'{num_classes}: pass the config it was exported from, or '
                'export this config again with tools/deployment/export.py')
        if classes is not None and self.classes is not None and tuple(
                self.classes) != tuple(classes):
            raise ValueError(
                f'{self.model_file} was exported with classes '
                f'{tuple(self.classes)} but the config names {tuple(classes)}'
                ': pass the config it was exported from, or export again')

    def check_io(self, input_names: Sequence[str],
                 input_shape: Sequence) -> None:
        """Refuse a graph whose inputs are not an fcos_mm export's; set
        ``static_batch`` and ``static_hw`` from ``input``'s shape."""
        if tuple(input_names) != INPUT_NAMES:
            raise ValueError(
                f'{self.model_file}: inputs {list(input_names)} are not '
                f'those of an fcos_mm export {INPUT_NAMES}; export the model '
                'with tools/deployment/export.py')
        self.static_batch = static_dim(input_shape[0])
        self.static_hw = (static_dim(input_shape[2]),
                          static_dim(input_shape[3]))

    @property
    def classes(self) -> Optional[List[str]]:
        """Class names stored in the exported file, if any."""
        classes = self.metadata.get('classes')
        return None if classes is None else json.loads(classes)

    def infer(self, images: np.ndarray,
              img_shapes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The runtime's ``dets`` and ``labels`` of one chunk of
        ``(n, 3, H, W)`` float32 ``images`` and ``(n, 2)`` ``img_shapes``."""
        raise NotImplementedError

    def _pad_to_static(self, inputs: Tensor) -> Tensor:
        """Pad ``inputs`` to a static model's height and width."""
        height, width = inputs.shape[-2:]
        want_h = self.static_hw[0] or height
        want_w = self.static_hw[1] or width
        if height > want_h or width > want_w:
            raise ValueError(
                f'{self.model_file} was exported for {want_h}x{want_w} '
                f'inputs but got a {height}x{width} batch; export again with '
                '--dynamic or a larger --shape')
        return F.pad(inputs, (0, want_w - width, 0, want_h - height))

    def run(self, inputs: Tensor,
            img_shapes: Sequence[Tuple[int, int]]) -> Tuple[Tensor, Tensor]:
        """The graph's ``dets`` ``(N, K, 5)`` and ``labels`` ``(N, K)`` (in
        input pixels, see :mod:`.export_model`) of ``(N, 3, H, W)``
        preprocessed images of ``(h, w)`` ``img_shapes``."""
        inputs = self._pad_to_static(inputs.detach().float().cpu())
        shapes = torch.tensor(
            [[float(height), float(width)] for height, width in img_shapes])
        num_imgs = inputs.size(0)
        chunk = self.static_batch or num_imgs
        all_dets, all_labels = [], []
        for start in range(0, num_imgs, chunk):
            images = inputs[start:start + chunk]
            chunk_shapes = shapes[start:start + chunk]
            missing = chunk - images.size(0)
            if missing:
                images = torch.cat(
                    [images, images.new_zeros((missing, ) + images.shape[1:])])
                chunk_shapes = torch.cat(
                    [chunk_shapes, chunk_shapes[:1].expand(missing, 2)])
            dets, labels = self.infer(
                np.ascontiguousarray(images.numpy()),
                np.ascontiguousarray(chunk_shapes.numpy()))
            all_dets.append(torch.from_numpy(np.asarray(dets))[:chunk -
                                                                missing])
            all_labels.append(
                torch.from_numpy(np.asarray(labels))[:chunk - missing])
        return torch.cat(all_dets), torch.cat(all_labels)

    def forward(self, inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'predict') -> List[DetDataSample]:
        """``data_samples`` (``img_shape``, ``scale_factor``) of
        ``(N, 3, H, W)`` preprocessed ``inputs`` with ``pred_instances`` in
        original-image pixels; ``mode='predict'`` only."""
        if mode != 'predict':
            raise ValueError(
                f'{type(self).__name__} only predicts, got mode={mode!r}')
        if data_samples is None:
            metainfo = dict(img_shape=tuple(inputs.shape[-2:]))
            data_samples = [
                DetDataSample(metainfo=metainfo) for _ in range(inputs.size(0))
            ]
        for index, sample in enumerate(data_samples):
            if 'img_shape' not in sample.metainfo:
                raise ValueError(f'Image {index} of the batch has no '
                                 'img_shape in its metainfo')
        dets, labels = self.run(
            inputs,
            [sample.metainfo['img_shape'][:2] for sample in data_samples])
        for sample, img_dets, img_labels in zip(data_samples, dets, labels):
            valid = img_labels >= 0
            bboxes = img_dets[valid, :4]
            scale_factor = sample.metainfo.get('scale_factor')
            if scale_factor is not None:
                bboxes = bboxes * bboxes.new_tensor(
                    [1 / factor for factor in scale_factor] * 2)
            sample.pred_instances = InstanceData(
                bboxes=bboxes,
                scores=img_dets[valid, 4],
                labels=img_labels[valid].long())
        return data_samples
