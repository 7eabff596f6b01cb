"""The FCOS detector: backbone -> neck -> :class:`FCOSHead`."""
import torch
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from fcos_mm.registry import MODELS

from ..utils import fcos_mm_scope


@MODELS.register_module()
class FCOS(SingleStageDetector):
    """`FCOS <https://arxiv.org/abs/1904.01355>`_, a single-stage detector.

    mmdet's :class:`SingleStageDetector` does the work. The parts are built
    in our scope whatever the caller's default scope, so ``type='FCOSHead'``
    means ours, ``'ResNet'`` / ``'FPN'`` fall through to mmdet's and
    ``'mmdet.FCOSHead'`` reaches mmdet's head.

    Args:
        backbone (dict): Backbone config, e.g. mmdet's ``ResNet``.
        neck (dict): Neck config, e.g. mmdet's ``FPN``.
        bbox_head (dict): Head config, e.g. :class:`FCOSHead`.
        train_cfg (dict, optional): Training config of the head.
            Defaults to None.
        test_cfg (dict, optional): Post-processing config of the head.
            Defaults to None.
        data_preprocessor (dict, optional): Config of the data
            preprocessor, e.g. ``DetDataPreprocessor``. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None.
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
        casts its outputs).

        Args:
            batch_inputs (Tensor): ``(N, 3, H, W)`` preprocessed images.
            batch_data_samples (list[DetDataSample]): Their meta information.
            rescale (bool): Boxes in original-image pixels. Defaults to True.

        Returns:
            list[DetDataSample]: With ``pred_instances``.
        """
        from fcos_mm.deployment.cpu_inference import inference_autocast
        if getattr(self, 'inference_autocast', None) is None:
            return super().predict(batch_inputs, batch_data_samples, rescale)
        with inference_autocast(self):
            return super().predict(
                batch_inputs.contiguous(memory_format=torch.channels_last),
                batch_data_samples, rescale)
