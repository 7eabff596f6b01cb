"""Parameters and FLOPs of a detector, through mmengine's analysis tools.

mmengine's counter (fvcore's rules) counts a multiply-add as one FLOP, what
mmdet's tables call GMACs or GFLOPs. Only the network is counted: the data
dependent post-processing is left out, as in mmdet's ``get_flops.py``.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info


class _TensorForward(nn.Module):
    """Expose ``detector._forward(images)`` as ``forward`` (the counter
    calls ``model(*inputs)``)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor):
        return self.detector._forward(images)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or frozen) of ``model``."""
    return sum(param.numel() for param in model.parameters())


def model_complexity(detector: nn.Module,
                     shape: Tuple[int, int],
                     show_table: bool = False) -> dict:
    """FLOPs and parameters of a detector's network on one input size.

    Args:
        detector (nn.Module): A single-stage detector (``_forward`` runs
            backbone, neck and head).
        shape (tuple[int, int]): Input (height, width). mmdet pads inputs
            to a multiple of 32; pass a padded size for that network cost.
        show_table (bool): Whether to return mmengine's per-module table.
            Defaults to False.

    Returns:
        dict: ``flops`` (int, multiply-adds), ``params`` (int), their
        readable ``flops_str`` / ``params_str``, and ``table`` (str, empty
        unless ``show_table``).
    """
    height, width = shape
    param = next(detector.parameters())
    images = torch.zeros(1, 3, height, width, device=param.device)
    was_training = detector.training
    detector.eval()
    try:
        with torch.no_grad():
            info = get_model_complexity_info(
                _TensorForward(detector),
                inputs=(images, ),
                show_table=show_table,
                show_arch=False)
    finally:
        detector.train(was_training)
    return dict(
        flops=int(info['flops']),
        params=count_parameters(detector),
        flops_str=info['flops_str'],
        params_str=info['params_str'],
        table=info['out_table'] if show_table else '')
