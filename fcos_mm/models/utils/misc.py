"""Small tensor helpers shared by the heads."""
from typing import Sequence

import torch
from torch import Tensor


def flatten_levels(mlvl_tensors: Sequence[Tensor]) -> Tensor:
    """Per-level ``(N, C, H_l, W_l)`` maps to one ``(N, P, C)`` tensor.

    The one place where a head's per-level outputs are flattened: image-major,
    then levels concatenated level-major, row-major inside a level, the order
    of ``MlvlPointGenerator.grid_priors`` and of the assigner's targets.
    ``P = sum_l H_l * W_l``.

    Args:
        mlvl_tensors (Sequence[Tensor]): One ``(N, C, H_l, W_l)`` tensor per
            level, the same ``N`` and ``C`` for all.

    Returns:
        Tensor: ``(N, P, C)``.
    """
    num_imgs, channels = mlvl_tensors[0].shape[:2]
    return torch.cat(
        [
            # (N, C, H_l, W_l) -> (N, H_l * W_l, C)
            t.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels)
            for t in mlvl_tensors
        ],
        dim=1)
