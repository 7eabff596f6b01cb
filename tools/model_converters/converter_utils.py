"""What the checkpoint converters in this folder share."""
from collections import OrderedDict
from typing import Dict, Tuple

from torch import Tensor

StateDict = Dict[str, Tensor]


def strip_prefix(state_dict: StateDict, prefix: str) -> StateDict:
    """Remove ``prefix`` (e.g. ``module.`` from DistributedDataParallel)
    from the keys that have it."""
    return OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v)
                       for k, v in state_dict.items())


def source_state_dict(checkpoint: dict, keys: Tuple[str, ...]) -> StateDict:
    """The weights of a checkpoint that keeps them under one of ``keys``,
    or is itself a state dict."""
    for key in keys:
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    if all(isinstance(v, Tensor) for v in checkpoint.values()):
        return checkpoint
    raise KeyError(f'The checkpoint holds no state dict under any of {keys}; '
                   f'its keys are {sorted(checkpoint)}.')


def save_converted(checkpoint: dict, path: str) -> None:
    """``torch.save`` to ``path`` atomically (a run reads it as
    ``load_from``), creating its folder: a failure leaves no partial file
    and whatever ``path`` held before."""
    import io

    import torch

    from fcos_mm.utils.atomic_io import atomic_write
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(buffer.getvalue(), path)
