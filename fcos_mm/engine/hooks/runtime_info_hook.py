"""mmengine's ``RuntimeInfoHook``, reading the log variables once per logging
interval instead of every iteration.

mmengine's hook puts every log variable of the step (``loss``, ``loss_cls``,
...) into the message hub each iteration with
``MessageHub.update_scalar``, which calls ``value.item()``: four host reads
per iteration, each waiting for the device to finish the whole step, so that
the host cannot queue the next step (data, copies, launches) meanwhile.

Differences from mmengine's hook, in where the values wait, not in what the
hub ends up holding:

- each iteration's tensor-valued log variables are detached and stacked
  into one device tensor per dtype (one small kernel, no read) and kept in
  a :class:`DeviceScalars` store;
- the store reads every pending iteration with one transfer per dtype: in
  the iteration where a ``LoggerHook`` logs (this hook runs first, with the
  logger's own rule), at the last iteration, at each epoch's end, before
  validation and after training;
- and whenever anything reads a pending key first (a checkpoint's
  ``message_hub.state_dict()``, another hook, user code): the hub's buffer
  of such a key is a :class:`DeviceHistoryBuffer`, which reads the store
  before any access to its history and pickles / copies as mmengine's plain
  ``HistoryBuffer``.

The hub then holds exactly what mmengine's hook would have put there, each
key inserted at the iteration where mmengine inserts it and each value
appended in order, so the log lines, the JSON scalars, windowed means and
the checkpoints' message hub are the same, bit for bit. Non-tensor values
and learning rates go to the hub as mmengine's hook sends them (a tensor
learning rate waits like a loss).

Registered as ``RuntimeInfoHook`` in scope ``fcos_mm``, so the Runner's
default ``runtime_info`` hook is this one.
"""
import copy
import copyreg
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import LoggerHook
from mmengine.hooks import RuntimeInfoHook as MMEngineRuntimeInfoHook
from mmengine.logging import HistoryBuffer, MessageHub

from fcos_mm.registry import HOOKS

# Without a LoggerHook, still read (and free) the pending values this often.
DEFAULT_READ_INTERVAL = 50


class DeviceScalars:
    """The log variables of the iterations not read yet, on their device.

    Each iteration adds its tensors stacked per ``(device, dtype)``;
    :meth:`read` concatenates every pending iteration's stack of a group
    and reads it with one ``tolist`` (one host transfer per group, usually
    one in all), then appends the values to their buffers in iteration
    order. ``tolist`` gives the same Python numbers as ``item``.
    """

    def __init__(self) -> None:
        self._pending: List[Tuple[List, Dict]] = []

    def __len__(self) -> int:
        """The number of iterations waiting to be read."""
        return len(self._pending)

    def add(self, items: List[Tuple['DeviceHistoryBuffer',
                                    torch.Tensor]]) -> None:
        """Keep one iteration's values (no host read).

        Args:
            items (list[tuple[DeviceHistoryBuffer, Tensor]]): Each value's
                buffer and the value, a one-element tensor.
        """
        groups: Dict[Tuple, List[torch.Tensor]] = {}
        order = []
        for buffer, value in items:
            group = (value.device, value.dtype)
            groups.setdefault(group, []).append(value.detach().reshape(()))
            order.append((buffer, group))
        # a copy: the step's outputs (CUDA graphs' static memory included)
        # may be overwritten by the next step
        stacked = {
            group: torch.stack(values)
            for group, values in groups.items()
        }
        self._pending.append((order, stacked))

    def read(self) -> None:
        """Read every pending value and append it to its buffer."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        by_group: Dict[Tuple, List[torch.Tensor]] = {}
        for _, stacked in pending:
            for group, values in stacked.items():
                by_group.setdefault(group, []).append(values)
        numbers = {
            group: iter(torch.cat(values).tolist())
            for group, values in by_group.items()
        }
        for order, _ in pending:
            for buffer, group in order:
                buffer.update(next(numbers[group]))


class DeviceHistoryBuffer(HistoryBuffer):
    """mmengine's ``HistoryBuffer`` whose newest values may still wait on
    the device in a :class:`DeviceScalars` store.

    Every access to the history (``mean``, ``current``, ``data``,
    ``statistics``, ``update``, a copy or a pickle) reads the store first,
    so a reader sees what mmengine's buffer would hold. A copy or a pickle
    is a plain ``HistoryBuffer`` (checkpoints load anywhere).

    Args:
        store (DeviceScalars): Where the pending values wait.
        source (HistoryBuffer, optional): A buffer whose history this one
            continues (a resumed run's). Defaults to None: empty, and the
            first value makes the arrays as mmengine's constructor does.
    """

    def __init__(self,
                 store: DeviceScalars,
                 source: Optional[HistoryBuffer] = None) -> None:
        self._store = store
        self._fresh = source is None
        if source is None:
            super().__init__()
        else:
            log_history, count_history = source.data
            super().__init__(max_length=source.max_length)
            self._log_history = log_history
            self._count_history = count_history

    @property
    def _log_history(self) -> np.ndarray:
        self._store.read()
        return self.__dict__['_log_history']

    @_log_history.setter
    def _log_history(self, value: np.ndarray) -> None:
        self.__dict__['_log_history'] = value

    @property
    def _count_history(self) -> np.ndarray:
        self._store.read()
        return self.__dict__['_count_history']

    @_count_history.setter
    def _count_history(self, value: np.ndarray) -> None:
        self.__dict__['_count_history'] = value

    def update(self, log_val, count: int = 1) -> None:
        """mmengine's ``update``; the first value of a new key makes the
        arrays as ``HistoryBuffer([log_val], [count])`` does (an int stays
        an int array, as in mmengine's hub)."""
        self._store.read()
        if self._fresh:
            self._fresh = False
            self._log_history = np.array([log_val])
            self._count_history = np.array([count])
            return
        super().update(log_val, count)

    def as_plain(self) -> HistoryBuffer:
        """The same history in a plain ``HistoryBuffer`` (store read)."""
        plain = HistoryBuffer.__new__(HistoryBuffer)
        plain.__dict__.update(
            max_length=self.max_length,
            _log_history=self._log_history,
            _count_history=self._count_history)
        return plain

    def __deepcopy__(self, memo: dict) -> HistoryBuffer:
        # MessageHub.state_dict (so every checkpoint) copies the buffers:
        # a plain one, pickled exactly as mmengine's
        return copy.deepcopy(self.as_plain(), memo)

    def __reduce_ex__(self, protocol):
        # pickle and copy.copy: rebuilt as a plain HistoryBuffer
        return (copyreg._reconstructor, (HistoryBuffer, object, None),
                self.as_plain().__getstate__())


@HOOKS.register_module()
class RuntimeInfoHook(MMEngineRuntimeInfoHook):
    """mmengine's ``RuntimeInfoHook`` with the log variables read once per
    logging interval (see the module's docstring).

    Args:
        read_interval (int, optional): Read the pending values every this
            many iterations where no ``LoggerHook`` sets the pace. Defaults
            to :data:`DEFAULT_READ_INTERVAL`.
    """

    def __init__(self, read_interval: Optional[int] = None) -> None:
        self.read_interval = read_interval or DEFAULT_READ_INTERVAL
        self.scalars = DeviceScalars()
        self._loggers: List[LoggerHook] = []

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        runner.message_hub.update_info('iter', runner.iter)
        lr_dict = runner.optim_wrapper.get_lr()
        assert isinstance(lr_dict, dict), (
            '`runner.optim_wrapper.get_lr()` should return a dict of '
            f'learning rates, but got {type(lr_dict)}: check that the '
            'optimizer constructor returns an `OptimWrapper` or '
            '`OptimWrapperDict`')
        items = []
        for name, lr in lr_dict.items():
            self._update(runner.message_hub, f'train/{name}', lr[0], items)
        if items:
            self.scalars.add(items)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs is not None:
            items = []
            for key, value in outputs.items():
                self._update(runner.message_hub, f'train/{key}', value, items)
            if items:
                self.scalars.add(items)
        if self._read_due(runner, batch_idx):
            self.scalars.read()

    def after_train_epoch(self, runner) -> None:
        self.scalars.read()

    def before_val(self, runner) -> None:
        self.scalars.read()
        super().before_val(runner)

    def after_train(self, runner) -> None:
        self.scalars.read()
        super().after_train(runner)

    # -- helpers -----------------------------------------------------------
    def _update(self, hub: MessageHub, key: str, value, items: List) -> None:
        """A tensor joins ``items`` (to wait on the device); anything else
        goes to the hub now, as mmengine's hook sends it."""
        if not isinstance(value, torch.Tensor):
            hub.update_scalar(key, value)
            return
        if value.numel() != 1:
            raise ValueError(
                f'The log variable {key!r} has {value.numel()} elements '
                f'(shape {tuple(value.shape)}); the message hub keeps one '
                f'number per iteration. Reduce it to one in the model (e.g. '
                f'`.mean()`), as mmengine\'s `parse_losses` does for losses.')
        items.append((self._buffer(hub, key), value))

    def _buffer(self, hub: MessageHub, key: str) -> DeviceHistoryBuffer:
        """The hub's buffer of ``key`` as a :class:`DeviceHistoryBuffer`
        of our store, made at the key's place (a new key goes last, where
        mmengine's ``update_scalar`` would insert it)."""
        buffer = hub.log_scalars.get(key)
        if isinstance(buffer, DeviceHistoryBuffer) and \
                buffer._store is self.scalars:
            return buffer
        buffer = DeviceHistoryBuffer(self.scalars, buffer)
        # load_state_dict is the hub's public way to place a buffer; it
        # marks the key resumable, as update_scalar's default does
        hub.load_state_dict(
            dict(
                log_scalars={key: buffer},
                runtime_info={},
                resumed_keys={key: True}))
        return buffer

    def _read_due(self, runner, batch_idx: int) -> bool:
        """Whether a ``LoggerHook`` logs this iteration (its own rule), it
        is the last one, or ``read_interval`` iterations passed without a
        logger."""
        if self.is_last_train_iter(runner):
            return True
        if not self._loggers:
            return self.every_n_train_iters(runner, self.read_interval)
        for logger in self._loggers:
            if self.every_n_inner_iters(batch_idx, logger.interval):
                return True
            if self.end_of_epoch(runner.train_dataloader, batch_idx) and (
                    not logger.ignore_last
                    or len(runner.train_dataloader) <= logger.interval):
                return True
        return False
