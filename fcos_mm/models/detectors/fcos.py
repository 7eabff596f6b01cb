"""The FCOS detector: backbone -> neck -> :class:`FCOSHead`."""
import contextlib

import torch
import torch.nn as nn
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from fcos_mm.registry import MODELS

from ..utils import fcos_mm_scope


def inference_autocast(model: nn.Module):
    """A CPU autocast context to ``model.inference_autocast`` (a no-op if
    unset), as the detector's ``predict`` and the benchmark use it."""
    dtype = getattr(model, 'inference_autocast', None)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast('cpu', dtype=dtype)


@MODELS.register_module()
class FCOS(SingleStageDetector):
    """`FCOS <https://arxiv.org/abs/1904.01355>`_, a single-stage detector.

    mmdet's :class:`SingleStageDetector` does the work, with its arguments,
    building the parts in our scope (:func:`fcos_mm_scope`).
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 bbox_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        with fcos_mm_scope():
            super().__init__(backbone, neck, bbox_head, train_cfg, test_cfg,
                             data_preprocessor, init_cfg)

    def predict(self,
                batch_inputs: torch.Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """mmdet's ``predict``, under bf16 CPU autocast with channels_last
        input when :func:`~fcos_mm.deployment.prepare_cpu_inference` set
        ``inference_autocast`` (post-processing stays float32: the head
        casts its outputs)."""
        if getattr(self, 'inference_autocast', None) is None:
            return super().predict(batch_inputs, batch_data_samples, rescale)
        with inference_autocast(self):
            return super().predict(
                batch_inputs.contiguous(memory_format=torch.channels_last),
                batch_data_samples, rescale)
