"""A detector backed by an exported ONNX file, run by onnxruntime.

:class:`ONNXRuntimeDetector` is an mmengine model: ``test_step`` runs the
data preprocessor in PyTorch, the graph of
:mod:`fcos_mm.deployment.export_model` in onnxruntime, and returns
``DetDataSample`` objects as the PyTorch detector does (boxes in original
image pixels), so :func:`~fcos_mm.apis.inference_detector` and the Runner of
``tools/test.py`` use it unchanged.

A static-shape export still takes any batch: images run ``batch`` at a time
(the last chunk filled with blank images), and a smaller input is padded with
zeros as the data preprocessor pads; a larger one is refused.
"""
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from fcos_mm.registry import MODELS

from .export_model import INPUT_NAMES


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


def _static_dim(dim) -> Optional[int]:
    return dim if isinstance(dim, int) and dim > 0 else None


@MODELS.register_module()
class ONNXRuntimeDetector(BaseModel):
    """An exported FCOS model behind the PyTorch detector's interface.

    Args:
        onnx_file (str): File written by ``tools/deployment/pytorch2onnx.py``.
        data_preprocessor (dict or nn.Module, optional): The config's
            ``model.data_preprocessor``. Defaults to None.
        num_threads (int, optional): onnxruntime intra-op threads.
            Defaults to None (onnxruntime's choice).
        init_cfg (dict, optional): Unused; for the Runner. Defaults to None.
    """

    def __init__(self,
                 onnx_file: str,
                 data_preprocessor: Optional[Union[dict, object]] = None,
                 num_threads: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.onnx_file = onnx_file
        self.session = create_session(onnx_file, num_threads)
        names = [node.name for node in self.session.get_inputs()]
        if tuple(names) != INPUT_NAMES:
            raise ValueError(f'{onnx_file}: inputs {names} are not those of '
                             f'an fcos_mm export {INPUT_NAMES}')
        shape = self.session.get_inputs()[0].shape
        self.static_batch = _static_dim(shape[0])
        self.static_hw = (_static_dim(shape[2]), _static_dim(shape[3]))
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def classes(self) -> Optional[List[str]]:
        """Class names stored in the ONNX file at export, if any."""
        classes = self.metadata.get('classes')
        return None if classes is None else json.loads(classes)

    def _pad_to_static(self, inputs: Tensor) -> Tensor:
        """Pad ``inputs`` to a static model's height and width."""
        height, width = inputs.shape[-2:]
        want_h = self.static_hw[0] or height
        want_w = self.static_hw[1] or width
        if height > want_h or width > want_w:
            raise ValueError(
                f'{self.onnx_file} was exported for {want_h}x{want_w} inputs '
                f'but got a {height}x{width} batch; export again with '
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
            dets, labels = self.session.run(
                None, {
                    'input': np.ascontiguousarray(images.numpy()),
                    'img_shapes': np.ascontiguousarray(chunk_shapes.numpy())
                })
            all_dets.append(torch.from_numpy(dets[:chunk - missing]))
            all_labels.append(torch.from_numpy(labels[:chunk - missing]))
        return torch.cat(all_dets), torch.cat(all_labels)

    def forward(self, inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'predict') -> List[DetDataSample]:
        """``data_samples`` (``img_shape``, ``scale_factor``) of
        ``(N, 3, H, W)`` preprocessed ``inputs`` with ``pred_instances`` in
        original-image pixels; ``mode='predict'`` only."""
        if mode != 'predict':
            raise ValueError(
                f"ONNXRuntimeDetector only predicts, got mode={mode!r}")
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
                labels=img_labels[valid])
        return data_samples
