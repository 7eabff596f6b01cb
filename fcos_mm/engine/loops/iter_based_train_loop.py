"""mmengine's ``IterBasedTrainLoop`` that resumes by skipping indices, not
batches, and saves on stop signals.

Differences from mmengine's loop:

- **Resume.** mmengine advances its dataloader iterator ``iter`` times,
  loading and throwing away every finished batch (mmengine#1520, #1633:
  minutes to hours on long runs). Here the finished batches are dropped
  from the batch sampler's index lists (see
  :mod:`~fcos_mm.engine.loops.resumable_batches`), so the first resumed
  step costs the same at iteration 80k as at 100: with an
  ``InfiniteSampler`` the first ``iter`` batches of its stream, with a
  finite sampler the passes done (``set_epoch``) and the batches of the
  current one. The data order is the one an uninterrupted run sees, and
  the python / numpy / torch random states saved in the checkpoint are
  restored, so with ``num_workers=0`` the augmentations too; a worker's
  random state is not restored (an iteration-based run keeps mmengine's
  per-worker randomness).
- **Stop signals**, as in :class:`~fcos_mm.engine.loops.
  EpochBasedTrainLoop` (see :mod:`fcos_mm.engine.preemption`).

A run that is not resumed is mmengine's, batch for batch.
"""
from typing import Dict, List, Optional, Tuple, Union

from mmengine.dataset import InfiniteSampler
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop as MMEngineIterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from fcos_mm.registry import LOOPS

from ..preemption import StopSignals, save_and_stop
from ..resume import capture_rng_state, restore_rng_state
from .resumable_batches import make_resumable, shutdown_workers


@LOOPS.register_module()
class IterBasedTrainLoop(MMEngineIterBasedTrainLoop):
    """mmengine's iteration loop (same arguments) with a resume that skips
    by index and a checkpoint on stop signals (see the module
    docstring)."""

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None
                 ) -> None:
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval, dynamic_intervals)
        self.stop_signals = StopSignals()
        self._resumed_rng = None

    def state_dict(self) -> dict:
        """The random states at the save (see the epoch loop)."""
        return dict(rng=capture_rng_state())

    def load_state_dict(self, state: dict) -> None:
        self._resumed_rng = state.get('rng')

    def run(self):
        """mmengine's ``run`` with the resume skip by index and the stop
        check after each iteration."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_by_index(self._iter)
        if self._resumed_rng is not None:
            restore_rng_state(self._resumed_rng)
            self._resumed_rng = None
        self.stop_signals.install()
        try:
            while self._iter < self._max_iters and not self.stop_training:
                self.runner.model.train()
                data_batch = next(self.dataloader_iterator)
                self.run_iter(data_batch)
                signum = self.stop_signals.poll()
                if signum:
                    save_and_stop(self.runner, self.stop_signals, signum,
                                  f'iteration {self._iter}', self._iter)
                self._decide_current_val_interval()
                if (self.runner.val_loop is not None
                        and self._iter >= self.val_begin
                        and (self._iter % self.val_interval == 0
                             or self._iter == self._max_iters)):
                    self.runner.val_loop.run()
        finally:
            self.stop_signals.uninstall()
            shutdown_workers(self.dataloader,
                             self.dataloader_iterator._iterator)
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _skip_by_index(self, done: int) -> None:
        """Replace the dataloader iterator by one positioned after ``done``
        batches."""
        loader = self.dataloader
        sampler = getattr(loader.batch_sampler, 'sampler', loader.sampler)
        passes, skip = 0, done
        if not isinstance(sampler, InfiniteSampler):
            passes, skip = divmod(done, len(loader))
        # the iterator mmengine made at construction, workers and all
        shutdown_workers(loader, self.dataloader_iterator._iterator)
        batches = make_resumable(loader)
        batches.skip_next(skip)
        if passes and hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(passes)
        self.dataloader_iterator = _InfiniteDataloaderIterator(loader)
        self.dataloader_iterator._epoch = passes
        print_log(
            f'Resuming at iteration {done + 1}: the {done} finished batches '
            f'are skipped by index, no image loaded.', 'current')
