"""Mixed precision without loss scaling, on CPU or GPU."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn

from fcos_mm.registry import OPTIM_WRAPPERS

from .optim_wrapper import OptimWrapper

_FP32_CONTEXT = '_fcos_mm_fp32_context'


def _is_narrow(module: nn.Conv2d, x: torch.Tensor) -> bool:
    stride_h, stride_w = module.stride
    return x.dim() == 4 and (x.shape[-1] < stride_w or x.shape[-2] < stride_h)


def _fp32_pre_hook(module: nn.Conv2d, args):
    x = args[0]
    if not (torch.is_autocast_enabled('cpu') and x.device.type == 'cpu'
            and _is_narrow(module, x)):
        return None
    context = torch.autocast('cpu', enabled=False)
    context.__enter__()
    setattr(module, _FP32_CONTEXT, context)
    return (x.float(), ) + tuple(args[1:])


def _fp32_post_hook(module: nn.Conv2d, args, output):
    context = getattr(module, _FP32_CONTEXT, None)
    if context is not None:
        delattr(module, _FP32_CONTEXT)
        context.__exit__(None, None, None)
    return None


def guard_narrow_strided_convs(model: nn.Module) -> int:
    """Run a strided ``Conv2d`` in float32 when its input is narrower than
    its stride, under CPU autocast.

    torch 2.13's oneDNN bfloat16 convolution backward (CPUs with AVX512-BF16
    or AMX; not AVX2) returns garbage, NaN or huge, in the weight gradient of
    the padding taps when the input's width or height is below the stride:
    FCOS's P7 conv (3x3, stride 2) on a 1x1 P6 map of a small image. It
    depends on what the allocator held before, so a run fails by chance. On
    such maps the conv costs nothing, so float32 there is free; everywhere
    else autocast is untouched. The decision reads shapes only (no sync).

    Args:
        model (nn.Module): Hooks go on each of its strided ``nn.Conv2d``
            (once; calling again adds none).

    Returns:
        int: The number of convolutions guarded.
    """
    count = 0
    for module in model.modules():
        if not isinstance(module, nn.Conv2d) or max(module.stride) == 1:
            continue
        if not getattr(module, '_fcos_mm_fp32_guarded', False):
            module.register_forward_pre_hook(_fp32_pre_hook)
            module.register_forward_hook(_fp32_post_hook, always_call=True)
            module._fcos_mm_fp32_guarded = True
        count += 1
    return count


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose forward runs under ``torch.autocast``.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU, although
    CPU autocast to bfloat16 works (and on CPUs with AMX runs matmuls and
    convs several times faster than float32). bfloat16 keeps float32's
    exponent range, so gradients do not underflow and no loss scaler is
    needed: backward and the optimizer step are those of the plain wrapper
    (step guard included), on float32 master weights. On the CPU, strided
    convolutions of maps narrower than their stride run in float32 (see
    :func:`guard_narrow_strided_convs`: a torch bug).

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
        """The parent's context (gradient accumulation, the guard's
        snapshot) plus autocast.

        Args:
            model (nn.Module): The model being trained.
        """
        if self.device_type == 'cpu':
            guard_narrow_strided_convs(model)
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield
