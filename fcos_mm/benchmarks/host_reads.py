"""Counting the host reads of tensor values in a real ``runner.train()``
(issue 29: the loop reads nothing between logging intervals):
:class:`HostReadProbe` patches the ``Tensor`` methods that hand a value to
the host and counts, per iteration, the calls made in the iteration's hooks
and step; :func:`logging_iterations` names the iterations where reads are
allowed. Used by ``gpu_check`` and by the RuntimeInfoHook's tests.
"""
import collections
import sys
import warnings
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

#: Tensor methods that hand a value to the host (a device sync on a GPU).
READ_METHODS = ('item', 'tolist', 'numpy', '__bool__', '__int__',
                '__float__', '__index__', '__complex__', '__array__',
                '__format__')


class HostReadProbe:
    """Count the host reads of tensor values (``Tensor.item``, ``tolist``,
    ``bool(t)``, ... :data:`READ_METHODS`) during a ``runner.train()``, per
    iteration: in its ``before_train_iter`` hooks, and from the end of its
    data preprocessor to the end of its ``after_train_iter`` hooks. Left
    out, as host-side work on host data: loading the batch (the sampler's
    ``randperm(...).tolist()`` at each pass) and the data preprocessor
    (its ground-truth check).

    Use as a context manager around ``runner.train()``. ``reads`` maps
    ``runner.iter`` at the time of a read (0-based: the hooks of the log's
    iteration N see N - 1) to the count, ``sites`` each caller's
    ``file:line`` to its count. A read nested in a counted one (``f'{t}'``
    calling ``item``) counts once.

    With ``cuda``, also ``cuda_syncs``: per iteration, every
    synchronisation CUDA reports (``set_sync_debug_mode('warn')``), the
    data preprocessor's copies included.

    Args:
        runner (Runner): A built runner (its model exists).
        cuda (bool): Count CUDA's synchronisations too. Defaults to False.
    """

    def __init__(self, runner, cuda: bool = False) -> None:
        self.runner = runner
        self.cuda = cuda
        self.cuda_syncs: Dict[int, int] = collections.Counter()
        self._catch = None
        self.reads: Dict[int, int] = collections.Counter()
        self.sites: Dict[str, int] = collections.Counter()
        self._armed = False
        self._inside = False
        self._saved = {}
        self._handles = []

    def __enter__(self) -> 'HostReadProbe':
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        preprocessor = model.data_preprocessor
        self._handles = [
            preprocessor.register_forward_pre_hook(
                lambda *args: self._arm(False), prepend=True),
            preprocessor.register_forward_hook(lambda *args: self._arm(True))
        ]
        self._hooks = [_Arm(self, True), _Arm(self, False)]
        self.runner.register_hook(self._hooks[0], priority='HIGHEST')
        self.runner.register_hook(self._hooks[1], priority='LOWEST')
        for name in READ_METHODS:
            self._saved[name] = torch.Tensor.__dict__.get(name)
            setattr(torch.Tensor, name,
                    self._counting(name, getattr(torch.Tensor, name)))
        if self.cuda:
            self._catch = warnings.catch_warnings()
            self._catch.__enter__()
            warnings.simplefilter('always')
            self._showwarning = warnings.showwarning
            warnings.showwarning = self._on_warning
            torch.cuda.set_sync_debug_mode('warn')
        return self

    def _on_warning(self, message, category, *args, **kwargs) -> None:
        if 'synchronizing' in str(message):
            self.cuda_syncs[self.runner.iter] += 1
        else:
            self._showwarning(message, category, *args, **kwargs)

    def __exit__(self, *exc) -> None:
        if self._catch is not None:
            torch.cuda.set_sync_debug_mode('default')
            self._catch.__exit__(*exc)
            self._catch = None
        for name, original in self._saved.items():
            if original is None:
                delattr(torch.Tensor, name)
            else:
                setattr(torch.Tensor, name, original)
        for handle in self._handles:
            handle.remove()
        for hook in self._hooks:
            self.runner._hooks.remove(hook)
        self._armed = False

    def _arm(self, armed: bool) -> None:
        self._armed = armed

    def _counting(self, name: str, original):
        probe = self

        def method(tensor, *args, **kwargs):
            if not probe._armed or probe._inside:
                return original(tensor, *args, **kwargs)
            probe._inside = True
            try:
                caller = sys._getframe(1)
                probe.sites[f'{caller.f_code.co_filename}:'
                            f'{caller.f_lineno} ({name})'] += 1
                probe.reads[probe.runner.iter] += 1
                return original(tensor, *args, **kwargs)
            finally:
                probe._inside = False

        return method

    def per_iteration(self, skip: Tuple[int, ...] = (),
                      counts: Optional[Dict[int, int]] = None) -> List[int]:
        """Reads (or ``counts``) in each iteration ``0 .. runner.iter -
        1`` not in ``skip`` (0-based)."""
        counts = self.reads if counts is None else counts
        return [
            counts.get(index, 0) for index in range(self.runner.iter)
            if index not in skip
        ]


class _Arm(Hook):
    """Arms a :class:`HostReadProbe` before each training iteration's
    hooks (``armed=True``, priority HIGHEST) or disarms it after them
    (``armed=False``, LOWEST)."""

    def __init__(self, probe: HostReadProbe, armed: bool) -> None:
        self.probe = probe
        self.armed = armed

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.armed:
            self.probe._arm(True)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not self.armed:
            self.probe._arm(False)


def logging_iterations(max_iters: int, interval: int) -> Tuple[int, ...]:
    """The 0-based iterations in which an iteration-based run with
    ``LoggerHook(interval)`` logs or ends (reads allowed there)."""
    return tuple(index for index in range(max_iters)
                 if (index + 1) % interval == 0 or index + 1 == max_iters)
