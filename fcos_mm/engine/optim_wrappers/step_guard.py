"""The step guard: an optimizer step with a non-finite loss or gradient is
skipped on the device, without a host sync.

How a guarded step runs (:class:`StepGuardMixin`, mixed into our
``OptimWrapper``, ``AutocastOptimWrapper`` and ``AmpOptimWrapper``)::

    backward(loss)    flag |= ~isfinite(loss)            (device, no sync)
    step()            norms = the gradients' norms, as clip_grad_norm_
                      computes them; skip = flag | ~isfinite(total norm)
                      | ~isfinite(BatchNorm running stats);
                      all-reduced (MAX) over ranks so every rank agrees;
                      clip with the same total norm (if configured);
                      snapshot weights + optimizer state, optimizer.step(),
                      then where(skip, snapshot, new) back into place.

A skipped step leaves weights, optimizer state and BatchNorm running stats
bit-identical to before it; the iteration counts on. A step that is not
skipped computes exactly what the unguarded wrapper computes (same norm,
same clip, same optimizer call), so a healthy run is bit-identical with the
guard on or off.

Fused optimizers (``SGD/Adam/AdamW(fused=True)``) take the skip flag as
``found_inf``, the way ``GradScaler`` gates them, and need no snapshot. With
``AmpOptimWrapper`` the flag is OR-ed into the scaler's ``found_inf`` so
``GradScaler`` skips the step (and its own fp16 overflow skips, silent in
mmengine, are recorded too).

The host reads nothing per step: :attr:`StepGuardMixin.last_step_record`
holds device tensors that :class:`~fcos_mm.engine.hooks.NonFiniteGuardHook`
stacks and reads once per logging interval. Two exceptions, both one host
read of the flag: the step that creates optimizer state (the first; a
skipped one must not leave half-made state) and optimizers that keep state
tensors on another device than the gradients (e.g. Adam's ``step`` counter
on the CPU of a CUDA run without ``capturable=True``).
"""
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from torch.utils._foreach_utils import (
    _group_tensors_by_device_and_dtype,
    _has_foreach_support,
)

# The fields of a step record (see StepGuardMixin), in their packed order:
# written by pack_record and read by unpack_records only.
RECORD_FIELDS = ('skipped', 'loss_nonfinite', 'grad_norm', 'first_nonfinite',
                 'overflow', 'loss_scale')


def pack_record(device: torch.device, **fields) -> torch.Tensor:
    """The record's ``values``: the :data:`RECORD_FIELDS` given by name
    (tensors or numbers), as one float64 tensor on ``device``, so the host
    reads many records in one transfer (no sync here)."""
    if set(fields) != set(RECORD_FIELDS):
        raise ValueError(f'a step record has the fields {RECORD_FIELDS}, '
                         f'got {tuple(fields)}')
    return torch.stack([
        torch.as_tensor(fields[name], device=device).to(torch.float64)
        for name in RECORD_FIELDS
    ])


def unpack_records(values: Sequence[float]) -> List[Dict[str, float]]:
    """Records packed by :func:`pack_record`, concatenated and read to the
    host (``tolist()``), as one dict per record, by field name."""
    width = len(RECORD_FIELDS)
    if len(values) % width:
        raise ValueError(f'{len(values)} values are not whole records of '
                         f'{width} fields')
    return [dict(zip(RECORD_FIELDS, values[start:start + width]))
            for start in range(0, len(values), width)]


def grad_norms(grads: List[torch.Tensor], norm_type: float = 2.0,
               foreach: Optional[bool] = None):
    """Per-gradient norms and their total, computed exactly as
    ``torch.nn.utils.get_total_norm`` does (same grouping by device and
    dtype, same kernels), so clipping with the total is bit-identical to
    ``clip_grad_norm_``.

    Args:
        grads (list[Tensor]): The gradients.
        norm_type (float): The p of the p-norm.
        foreach (bool, optional): As for ``clip_grad_norm_``.

    Returns:
        tuple[Tensor, Tensor]: The norms in ``grads``' order, shape (n, ),
        and the total norm (a scalar).
    """
    norm_type = float(norm_type)
    grouped = _group_tensors_by_device_and_dtype([grads], with_indices=True)
    norms, order = [], []
    for (device, _), ([device_grads], indices) in grouped.items():
        if (foreach is None and _has_foreach_support(device_grads, device)
                or foreach):
            norms.extend(torch._foreach_norm(device_grads, norm_type))
        else:
            norms.extend(
                torch.linalg.vector_norm(g, norm_type) for g in device_grads)
        order.extend(indices)
    first_device = grads[0].device
    stacked = torch.stack([norm.to(first_device) for norm in norms])
    total = torch.linalg.vector_norm(stacked, norm_type)
    if order != sorted(order):  # back to the gradients' order
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        stacked = stacked[inverse.to(first_device)]
    return stacked, total


def first_true(mask: torch.Tensor) -> torch.Tensor:
    """Index of the first True in a 1-d bool ``mask``, -1 if none (on the
    device, no sync)."""
    if mask.numel() == 0:
        return torch.full((), -1, dtype=torch.long, device=mask.device)
    return torch.where(mask.any(), mask.int().argmax(), -1)


def _running_stat_modules(model: nn.Module) -> List[nn.Module]:
    return [
        m for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._NormBase)
        and m.track_running_stats
    ]


def _is_fused(optimizer: torch.optim.Optimizer) -> bool:
    return bool(getattr(optimizer, '_step_supports_amp_scaling', False)) \
        and all(group.get('fused') for group in optimizer.param_groups)


def _state_size(optimizer: torch.optim.Optimizer) -> int:
    return sum(len(state) for state in optimizer.state.values())


class StepGuardMixin:
    """Adds the step guard to an mmengine ``OptimWrapper`` (listed first in
    the bases). Off until :meth:`enable_step_guard`; off, every method is
    the wrapper's own.

    Attributes:
        last_step_record (dict or None): After each guarded step:
            ``values``, a float64 tensor on the device with the named
            :data:`RECORD_FIELDS` (:func:`pack_record`; skipped 0/1, loss
            non-finite 0/1, total gradient norm, index of the first
            parameter with a non-finite gradient or -1, fp16 overflow 0/1,
            loss scale or 1; read them with :func:`unpack_records`); and
            ``params``, the parameters that had gradients, in the order the
            index refers to.
    """

    _guard_enabled = False
    last_step_record: Optional[Dict] = None

    def enable_step_guard(self, enabled: bool = True) -> None:
        """Turn the guard on (or off) for the following steps."""
        self._guard_enabled = enabled
        self._loss_flag: Optional[torch.Tensor] = None
        self._stat_modules: Optional[List[nn.Module]] = None
        self._stat_snapshot: Optional[List[torch.Tensor]] = None
        self._stat_tensors: List[torch.Tensor] = []
        self.last_step_record = None

    @property
    def step_guard_enabled(self) -> bool:
        return self._guard_enabled

    # -- the wrapper's methods -------------------------------------------
    @contextmanager
    def optim_context(self, model: nn.Module):
        if self._guard_enabled and self._stat_snapshot is None:
            self._snapshot_running_stats(model)
        with super().optim_context(model):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self._guard_enabled:
            bad = ~torch.isfinite(loss.detach()).all()
            self._loss_flag = bad if self._loss_flag is None else (
                self._loss_flag | bad)
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if not self._guard_enabled:
            return super().step(**kwargs)
        params = self._params_with_grad()
        device = params[0].device if params else (
            self._loss_flag.device if self._loss_flag is not None else
            torch.device('cpu'))
        self._unscale_gradients()
        loss_bad = self._loss_flag if self._loss_flag is not None else \
            torch.zeros((), dtype=torch.bool, device=device)
        loss_bad = loss_bad.to(device)
        clip = dict(self.clip_grad_kwargs or {})
        if params:
            per_norm, total = grad_norms([p.grad for p in params],
                                         clip.get('norm_type', 2.0),
                                         clip.get('foreach'))
            first_bad = first_true(~torch.isfinite(per_norm))
            skip = loss_bad | ~torch.isfinite(total)
        else:
            total = torch.zeros((), device=device)
            first_bad = torch.full((), -1, dtype=torch.long, device=device)
            skip = loss_bad
        skip = skip | self._running_stats_nonfinite(device)
        skip = self._agree_over_ranks(skip)
        if clip and params:
            if self.grad_name == 'grad_norm':
                torch.nn.utils.clip_grads_with_norm_(
                    params, clip['max_norm'], total, clip.get('foreach'))
            else:
                self.clip_func(params, **clip)
        overflow, loss_scale = self._gated_optimizer_step(skip, params,
                                                          **kwargs)
        self._restore_running_stats(skip)
        self.last_step_record = dict(
            values=pack_record(
                device, skipped=skip | overflow, loss_nonfinite=loss_bad,
                grad_norm=total, first_nonfinite=first_bad,
                overflow=overflow & ~loss_bad, loss_scale=loss_scale),
            params=params)
        self._loss_flag = None
        self._stat_snapshot = None

    # -- pieces ----------------------------------------------------------
    def _params_with_grad(self) -> List[torch.Tensor]:
        return [
            p for group in self.optimizer.param_groups for p in group['params']
            if p.requires_grad and p.grad is not None
        ]

    def _unscale_gradients(self) -> None:
        """Bring gradients to their true scale before the norm (AMP)."""

    def _agree_over_ranks(self, skip: torch.Tensor) -> torch.Tensor:
        """MAX over ranks: a loss that is non-finite on one rank only must
        skip the step everywhere, or the replicas drift apart."""
        if not (torch_dist.is_available() and torch_dist.is_initialized()
                and torch_dist.get_world_size() > 1):
            return skip
        flag = skip.to(torch.float32)
        torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
        return flag > 0

    def _snapshot_running_stats(self, model: nn.Module) -> None:
        if self._stat_modules is None:
            self._stat_modules = _running_stat_modules(model)
        self._stat_tensors = [
            buffer for m in self._stat_modules if m.training
            for buffer in (m.running_mean, m.running_var,
                           m.num_batches_tracked) if buffer is not None
        ]
        self._stat_snapshot = [t.clone() for t in self._stat_tensors]

    def _running_stats_nonfinite(self, device) -> torch.Tensor:
        floats = [t for t in self._stat_tensors if t.is_floating_point()]
        if not floats or self._stat_snapshot is None:
            return torch.zeros((), dtype=torch.bool, device=device)
        finite = torch.stack(
            [torch.isfinite(t).all().to(device) for t in floats])
        return ~finite.all()

    def _restore_running_stats(self, skip: torch.Tensor) -> None:
        if not self._stat_snapshot:
            return
        for tensor, saved in zip(self._stat_tensors, self._stat_snapshot):
            tensor.copy_(torch.where(skip.to(tensor.device), saved, tensor))

    def _gated_optimizer_step(self, skip: torch.Tensor,
                              params: List[torch.Tensor], **kwargs):
        """``optimizer.step`` whose effect is undone where ``skip``.

        Returns:
            tuple: (fp16 overflow flag, loss scale), False and 1 here.
        """
        optimizer = self.optimizer
        no_overflow = torch.zeros_like(skip)
        size_before = self._remember_state_keys()
        if _is_fused(optimizer):
            optimizer.found_inf = skip.to(torch.float32)
            try:
                optimizer.step(**kwargs)
            finally:
                del optimizer.found_inf
            self._drop_new_state_if_skipped(skip, size_before)
            return no_overflow, 1.0
        tensors = params + [
            value for p in params
            for value in optimizer.state.get(p, {}).values()
            if isinstance(value, torch.Tensor)
        ]
        here = [t for t in tensors if t.device == skip.device]
        elsewhere = [t for t in tensors if t.device != skip.device]
        with torch.no_grad():
            saved = [torch.empty_like(t) for t in here]
            if here:
                torch._foreach_copy_(saved, here)
            saved_elsewhere = [t.clone() for t in elsewhere]
            optimizer.step(**kwargs)
            for tensor, old in zip(here, saved):
                # where() moves bits, so a skipped step restores them all;
                # in place (out aliases an input element for element).
                torch.where(skip, old, tensor, out=tensor)
            if elsewhere and bool(skip):  # host-held state: one host read
                torch._foreach_copy_(elsewhere, saved_elsewhere)
        self._drop_new_state_if_skipped(skip, size_before)
        return no_overflow, 1.0

    def _remember_state_keys(self) -> int:
        """The optimizer state's keys per parameter, re-read only when the
        state's size changed since the last step (a resume, a first step),
        so a step costs one sum of lengths on the host."""
        size = _state_size(self.optimizer)
        if size != getattr(self, '_known_state_size', None):
            self._known_state_keys = {
                p: set(state) for p, state in self.optimizer.state.items()
            }
            self._known_state_size = size
        return size

    def _drop_new_state_if_skipped(self, skip: torch.Tensor,
                                   size_before: int) -> None:
        """A skipped step that created optimizer state (the first step, a
        new parameter) must not leave it: one host read, on such steps
        only."""
        optimizer = self.optimizer
        if _state_size(optimizer) == size_before:
            return
        if bool(skip):
            for p in list(optimizer.state):
                known = self._known_state_keys.get(p, set())
                state = optimizer.state[p]
                for key in [key for key in state if key not in known]:
                    del state[key]
                if not state:
                    del optimizer.state[p]
        self._known_state_size = None  # re-read before the next step
