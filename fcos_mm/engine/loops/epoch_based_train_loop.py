"""mmengine's ``EpochBasedTrainLoop`` with an exact mid-epoch resume and a
checkpoint on stop signals.

Differences from mmengine's loop:

- **Mid-epoch resume.** mmengine's ``run_epoch`` iterates the whole
  dataloader after a resume, so a run resumed from iteration 9 of a
  12-iteration epoch trains 12 more (the 9 finished ones again) and ends
  past ``max_iters``. Here the finished batches of the resumed epoch are
  skipped by index (no image loaded, see
  :mod:`~fcos_mm.engine.loops.resumable_batches`), ``batch_idx`` counts on
  from where the run stopped, and each checkpoint carries
  :meth:`EpochBasedTrainLoop.state_dict` (the random states, restored when
  the resumed epoch starts), so the iteration counter, the LR schedule, the
  log, the ETA and, in deterministic mode, the final weights equal an
  uninterrupted run's.
- **Per-sample seeds** (``seed_samples=True``): each sample's augmentation
  comes from (seed, epoch, index), not from the state of the worker that
  loads it; this is what makes the resume exact with workers, persistent
  or not, and with another ``num_workers``. ``seed_samples=False`` keeps
  mmengine's per-worker randomness (then only ``num_workers=0`` resumes
  exactly).
- **Stop signals.** SIGTERM, SIGINT and SIGUSR1 end the current iteration;
  all ranks stop at the same one, write ``latest.pth`` and raise
  :class:`~fcos_mm.engine.errors.TrainingPreempted` (see
  :mod:`fcos_mm.engine.preemption`).

Registered as ``EpochBasedTrainLoop`` in scope ``fcos_mm``, so the mmdet
schedules' ``train_cfg=dict(type='EpochBasedTrainLoop', ...)`` get it.
"""
from typing import Dict, List, Optional, Tuple, Union

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop as MMEngineEpochBasedTrainLoop
from torch.utils.data import DataLoader

from fcos_mm.registry import LOOPS

from ..preemption import StopSignals, save_and_stop
from ..resume import capture_rng_state, restore_rng_state
from .resumable_batches import make_resumable, shutdown_workers


@LOOPS.register_module()
class EpochBasedTrainLoop(MMEngineEpochBasedTrainLoop):
    """mmengine's epoch loop (same arguments) that resumes mid-epoch
    exactly and saves on stop signals (see the module docstring).

    Args:
        seed_samples (bool): Seed each sample's augmentation from (seed,
            epoch, index). Defaults to True.
        *args, **kwargs: mmengine's ``EpochBasedTrainLoop`` arguments.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 seed_samples: bool = True) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self.batches = make_resumable(
            self.dataloader, runner.seed if seed_samples else None)
        self.stop_signals = StopSignals()
        self._resumed_rng: Optional[dict] = None

    # -- checkpoint state ----------------------------------------------------
    def state_dict(self) -> dict:
        """What a checkpoint needs beyond mmengine's ``meta`` epoch / iter:
        the random states at the save."""
        return dict(rng=capture_rng_state())

    def load_state_dict(self, state: dict) -> None:
        """Keep the random states to restore when the resumed epoch
        starts."""
        self._resumed_rng = state.get('rng')

    # -- running -------------------------------------------------------------
    def run(self):
        self.stop_signals.install()
        try:
            return super().run()
        finally:
            self.stop_signals.uninstall()
            shutdown_workers(self.dataloader)

    def run_epoch(self) -> None:
        """Iterate the rest of the epoch: all of it, or after a resume the
        batches not trained yet."""
        runner = self.runner
        runner.call_hook('before_train_epoch')
        runner.model.train()
        num_batches = len(self.dataloader)
        done = min(max(self._iter - self._epoch * num_batches, 0),
                   num_batches)
        if done:
            print_log(
                f'Resuming epoch {self._epoch + 1} at batch {done + 1}/'
                f'{num_batches} (iteration {self._iter + 1}): its first '
                f'{done} batch(es) are skipped by index, no image loaded.',
                'current')
        self.batches.skip_next(done)
        self.batches.epoch = self._epoch
        rng, self._resumed_rng = self._resumed_rng, None
        if rng is not None and not done:
            restore_rng_state(rng)
        batches = iter(self.dataloader)
        if rng is not None and done:
            # The stopped run drew the workers' base seed from torch's
            # generator when this epoch began, before the checkpoint: the
            # state to continue with is the one saved, after that draw.
            restore_rng_state(rng)
        try:
            for batch_idx, data_batch in enumerate(batches, start=done):
                self.run_iter(batch_idx, data_batch)
                signum = self.stop_signals.poll()
                if signum:
                    self._stop(signum, batch_idx, num_batches)
        except BaseException:
            shutdown_workers(self.dataloader, batches)
            raise
        runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _stop(self, signum: int, batch_idx: int, num_batches: int) -> None:
        save_and_stop(
            self.runner, self.stop_signals, signum,
            f'iteration {self._iter} (epoch {self._epoch + 1}, batch '
            f'{batch_idx + 1}/{num_batches})', self._iter)
