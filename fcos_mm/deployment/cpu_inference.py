"""Fast CPU inference: bf16 autocast and channels_last where the CPU has
bf16 matrix units, conv + BatchNorm folding everywhere, and optionally
``torch.compile`` (inductor with freezing) of backbone, neck and head
(:func:`compile_for_cpu`).

bf16 convolutions are fast only on CPUs with bf16 matrix instructions (Intel
AMX, AVX-512 BF16, used by oneDNN); elsewhere they are emulated, measured ~10x
slower than fp32 (AVX2-only AMD EPYC), so :func:`bf16_support` switches them
on only when such units are found at run time.

Folding a BatchNorm into the conv before it is exact in eval mode (running
statistics), as a detector runs at inference; GroupNorm (the head) cannot
be folded.
"""
import warnings
from typing import Callable, Iterable, Optional, Tuple

import torch
import torch.nn as nn

#: ``/proc/cpuinfo`` flags of bf16 matrix units (Intel AMX, AVX-512 BF16;
#: ``avx512_bf16`` also on AMD Zen 4 and later).
BF16_FLAGS = ('amx_bf16', 'avx512_bf16')


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> Optional[set]:
    """The CPU feature flags listed in ``cpuinfo`` (None if unreadable)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        return None
    return None


def bf16_support(flags: Optional[Iterable[str]] = None) -> Tuple[bool, str]:
    """Whether this CPU has bf16 matrix units, and a one-line reason;
    decided from ``flags`` (e.g. another machine's), else from torch
    (``torch.cpu._is_amx_tile_supported`` / ``_is_avx512_bf16_supported``)
    and ``/proc/cpuinfo``."""
    if flags is None:
        if not torch.backends.mkldnn.is_available():
            return False, ('fp32: this torch has no oneDNN (mkldnn), which '
                           'runs bf16 convolutions')
        probes = dict(amx_bf16='_is_amx_tile_supported',
                      avx512_bf16='_is_avx512_bf16_supported')
        flags = {flag for flag, probe in probes.items()
                 if getattr(torch.cpu, probe, lambda: False)()}
        flags |= cpu_flags() or set()
    flags = set(flags)
    units = [flag for flag in BF16_FLAGS if flag in flags]
    if units:
        return True, (f'bf16 autocast + channels_last: the CPU has bf16 '
                      f'matrix units ({", ".join(units)})')
    return False, ('fp32: the CPU has no bf16 matrix units (no amx_bf16 or '
                   'avx512_bf16 flag); bf16 would be emulated, ~10x slower')


def _fold_into_conv(conv: nn.Conv2d, norm: nn.modules.batchnorm._BatchNorm
                    ) -> None:
    """Fold ``norm`` (eval mode) into ``conv``'s weight and bias."""
    std = (norm.running_var + norm.eps).sqrt()
    weight = norm.weight if norm.affine else torch.ones_like(std)
    bias = norm.bias if norm.affine else torch.zeros_like(std)
    factor = weight / std  # (C_out,)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(std)
    with torch.no_grad():
        conv.weight.copy_(conv.weight * factor.reshape(-1, 1, 1, 1))
        new_bias = (conv_bias - norm.running_mean) * factor + bias
        if conv.bias is None:
            conv.bias = nn.Parameter(new_bias.detach().clone(),
                                     requires_grad=False)
        else:
            conv.bias.copy_(new_bias)


def _conv_norm_pairs(module: nn.Module):
    """``(parent, conv, norm attribute name)`` of the conv -> norm pairs of
    mmcv's ``ConvModule``, mmdet's ResNet and Sequentials (``downsample``);
    a Sequential's children are attributes ``'0'``, ``'1'``, ..."""
    for parent in module.modules():
        if type(parent).__name__ == 'ConvModule':
            if (getattr(parent, 'with_norm', False) and tuple(
                    parent.order)[:2] == ('conv', 'norm')):
                yield parent, parent.conv, parent.norm_name
            continue
        if isinstance(parent, nn.Sequential) and len(parent) >= 2:
            for index in range(len(parent) - 1):
                yield parent, parent[index], str(index + 1)
            continue
        for index in (1, 2, 3):
            norm_name = getattr(parent, f'norm{index}_name', None)
            conv = getattr(parent, f'conv{index}', None)
            if norm_name is not None and conv is not None:
                yield parent, conv, norm_name


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode ``_BatchNorm`` into the plain ``nn.Conv2d``
    (not a deformable one) that feeds it, in place; the norm becomes
    ``nn.Identity``. Returns how many were folded."""
    folded = 0
    for parent, conv, norm_name in list(_conv_norm_pairs(model)):
        norm = getattr(parent, norm_name, None)
        if not (type(conv) is nn.Conv2d
                and isinstance(norm, nn.modules.batchnorm._BatchNorm)
                and not norm.training and norm.track_running_stats):
            continue
        _fold_into_conv(conv, norm)
        setattr(parent, norm_name, nn.Identity())
        folded += 1
    return folded


class CompiledOrEager:
    """``torch.compile`` of a module's ``forward`` that falls back, once
    and with a warning naming the module and the error, to the eager
    ``forward`` when compiling (done at the first call) fails.

    Args:
        forward (Callable): The module's bound eager ``forward``.
        name (str): The module's name, for the warning.
    """

    def __init__(self, forward: Callable, name: str) -> None:
        self.eager = forward
        self.name = name
        # static shapes: each new input size compiles once more
        self.compiled = torch.compile(
            forward, backend='inductor', dynamic=False)
        self.error: Optional[BaseException] = None

    def __call__(self, *args, **kwargs):
        if self.error is None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 (any compiler failure)
                self.error = e
                warnings.warn(
                    f'torch.compile of the {self.name} failed, running it '
                    f'eager instead: {type(e).__name__}: '
                    f'{str(e).splitlines()[0] if str(e) else ""}')
        return self.eager(*args, **kwargs)


#: The detector parts :func:`compile_for_cpu` compiles (post-processing,
#: data-dependent, stays eager).
COMPILED_PARTS = ('backbone', 'neck', 'bbox_head')


def compile_for_cpu(model: nn.Module) -> str:
    """Compile the ``forward`` of the detector's backbone, neck and head
    with ``torch.compile`` (inductor, ``freezing``: weights folded as
    constants, valid in inference only), in place; a part that cannot
    compile falls back to eager with a warning (:class:`CompiledOrEager`).
    Call after :func:`prepare_cpu_inference`.

    Returns:
        str: One line saying what was compiled.
    """
    try:
        import torch._inductor.config as inductor_config
    except ImportError as e:  # a torch without inductor
        warnings.warn(f'torch.compile is unavailable ({e}); running eager')
        return 'eager: torch.compile is unavailable'
    inductor_config.freezing = True
    parts = [name for name in COMPILED_PARTS
             if getattr(model, name, None) is not None]
    for name in parts:
        module = getattr(model, name)
        module.forward = CompiledOrEager(module.forward, name)
    return ('torch.compile (inductor, freezing) of ' + ', '.join(parts) +
            '; compiled at the first image of each size')


def prepare_cpu_inference(model: nn.Module,
                          amp: bool = True,
                          flags: Optional[Iterable[str]] = None) -> str:
    """Make an eval-mode detector fast on this CPU, in place: fold the
    BatchNorms; with ``amp`` and bf16 units, channels_last weights and
    ``model.inference_autocast = torch.bfloat16`` (see
    :func:`~fcos_mm.models.detectors.fcos.inference_autocast`).

    Args:
        model (nn.Module): The detector, in eval mode.
        amp (bool): Use bf16 where the CPU supports it. Defaults to True.
        flags (Iterable[str], optional): See :func:`bf16_support`.

    Returns:
        str: One line saying what was done and why.
    """
    model.eval()
    folded = fold_batchnorm(model)
    note = f'folded {folded} BatchNorm(s) into convs'
    model.inference_autocast = None
    if not amp:
        return f'fp32 ({note})'
    use_bf16, reason = bf16_support(flags)
    if use_bf16:
        model.to(memory_format=torch.channels_last)
        model.inference_autocast = torch.bfloat16
    return f'{reason} ({note})'


#: ``precision`` values of the OpenVINO backend (``auto``: bf16 where
#: :func:`bf16_support` finds bf16 units, else f32).
PRECISIONS = ('auto', 'f32', 'bf16')


def resolve_precision(precision: str = 'auto',
                      flags: Optional[Iterable[str]] = None
                      ) -> Tuple[str, str]:
    """``'f32'`` or ``'bf16'`` for ``precision`` on this CPU (or one with
    ``flags``), and a one-line reason.

    Raises:
        ValueError: ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision={precision!r}: choose one of '
                         f'{PRECISIONS} (auto: bf16 where the CPU has bf16 '
                         'units, else f32)')
    if precision != 'auto':
        return precision, f'{precision}: asked for'
    use_bf16, reason = bf16_support(flags)
    reason = reason.split(':', 1)[1].strip()
    return ('bf16' if use_bf16 else 'f32'), f'auto: {reason}'
