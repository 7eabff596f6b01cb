"""Mixed precision without loss scaling, on CPU or GPU."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from fcos_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose forward runs under ``torch.autocast``.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU, although
    CPU autocast to bfloat16 works (and on CPUs with AMX runs matmuls and
    convs several times faster than float32). bfloat16 keeps float32's
    exponent range, so gradients do not underflow and no loss scaler is
    needed: backward and the optimizer step are those of the plain wrapper,
    on float32 master weights.

    Args:
        dtype (str or torch.dtype): The autocast dtype. Defaults to
            ``'bfloat16'``.
        device_type (str, optional): ``'cpu'`` or ``'cuda'``. Defaults to
            ``'cuda'`` when CUDA is available, else ``'cpu'``.
        **kwargs: Passed to :class:`OptimWrapper` (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype, None) if isinstance(
            dtype, str) else dtype
        if not isinstance(self.cast_dtype, torch.dtype):
            raise TypeError(f'dtype must name a torch dtype, e.g. '
                            f"'bfloat16', but got {dtype!r}")
        self.device_type = device_type or (
            'cuda' if torch.cuda.is_available() else 'cpu')

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The parent's context (gradient accumulation) plus autocast.

        Args:
            model (nn.Module): The model being trained.
        """
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield
