"""mmengine's ``CheckpointHook``, made so that a save never loses work.

Differences from mmengine's hook, all in the order of what is written and
removed:

- each checkpoint and ``last_checkpoint`` is written atomically (a
  temporary file in the same folder, fsynced, ``os.replace``\\ d; see
  :mod:`fcos_mm.utils.atomic_io`) where mmengine writes the final path
  directly;
- the oldest checkpoint (``max_keep_ckpts``) and the previous best are
  removed only after the new one is in place, where mmengine removes them
  first;
- a save whose weights or optimizer state hold NaN / inf is refused
  (:class:`~fcos_mm.engine.errors.NonFiniteCheckpointError`), and a save
  that fails (a full disk) stops training with
  :class:`~fcos_mm.engine.errors.CheckpointSaveError`, which names the
  checkpoints still on disk;
- ``--resume`` without a path resumes from the newest checkpoint that loads
  safely, holds what its name says and is finite (each one passed over is
  logged with why), where mmengine follows ``last_checkpoint`` blindly;
  the unfinished temporary files of a killed save are removed first;
- a rolling checkpoint, ``latest.pth``, is written every
  ``rolling_interval`` seconds of training and / or every
  ``rolling_iters`` iterations, and by :meth:`CheckpointHook.save_latest`
  when a stop signal arrives: it replaces itself (atomically), does not
  count against ``max_keep_ckpts``, and bounds what a ``kill -9`` loses;
- every checkpoint holds the train loop's ``state_dict()`` (position in
  the epoch, random states; see :mod:`fcos_mm.engine.loops`) under
  ``train_loop``, handed back to the loop on resume.

It is registered as ``CheckpointHook`` in scope ``fcos_mm``, so
``default_hooks.checkpoint=dict(type='CheckpointHook', ...)`` gets it.
"""
import logging
import os
import os.path as osp
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook
from mmengine.logging import print_log

from fcos_mm.registry import HOOKS
from fcos_mm.utils.atomic_io import (
    ATOMIC_BACKEND,
    atomic_write,
    register_atomic_backend,
    remove_stale_temp_files,
)
from fcos_mm.utils.checkpoint import describe_nonfinite, nonfinite_tensors

from ..errors import CheckpointSaveError, NonFiniteCheckpointError
from ..resume import (
    ROLLING_NAME,
    find_resumable_checkpoint,
    is_checkpoint_name,
)


class _RemovalsDeferred:
    """A file backend whose ``remove`` / ``rmtree`` are queued until
    :meth:`run`; everything else goes to the wrapped backend."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.queued: List[str] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def remove(self, path) -> None:
        self.queued.append(path)

    def rmtree(self, path) -> None:
        self.queued.append(path)

    def run(self, keep=()) -> None:
        keep = {osp.abspath(str(p)) for p in keep if p}
        for path in self.queued:
            if osp.abspath(str(path)) in keep:
                continue
            if self._backend.isfile(path):
                self._backend.remove(path)
            elif self._backend.isdir(path):
                self._backend.rmtree(path)


@HOOKS.register_module()
class CheckpointHook(MMEngineCheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) with atomic saves,
    removals after the new file is in place, no non-finite checkpoint and a
    resume that picks the newest valid checkpoint (see the module
    docstring).

    Its arguments are mmengine's, named one by one: mmengine's hook takes
    ``**kwargs`` for ``Runner.save_checkpoint``, which gets all of its
    arguments from the named ones already, so an extra keyword there was
    only a typo passed on (``intervl=5``) to fail at the first save. Here it
    is a ``TypeError`` when the hook is built, and
    :func:`~fcos_mm.engine.config_check.check_hook_arguments` names it with
    the closest argument before the runner starts.

    Args:
        rolling_interval (float, optional): Seconds of training between two
            writes of ``latest.pth``; None or 0: not by time.
        rolling_iters (int, optional): Iterations between two writes of
            ``latest.pth``; None or 0: not by count.
    """

    def __init__(self,
                 interval: int = -1,
                 by_epoch: bool = True,
                 save_optimizer: bool = True,
                 save_param_scheduler: bool = True,
                 out_dir: Optional[Union[str, Path]] = None,
                 max_keep_ckpts: int = -1,
                 save_last: bool = True,
                 save_best: Union[str, List[str], None] = None,
                 rule: Union[str, List[str], None] = None,
                 greater_keys: Optional[Sequence[str]] = None,
                 less_keys: Optional[Sequence[str]] = None,
                 file_client_args: Optional[dict] = None,
                 filename_tmpl: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 published_keys: Union[str, List[str], None] = None,
                 save_begin: int = 0,
                 rolling_interval: Optional[float] = None,
                 rolling_iters: Optional[int] = None) -> None:
        super().__init__(
            interval=interval,
            by_epoch=by_epoch,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            out_dir=out_dir,
            max_keep_ckpts=max_keep_ckpts,
            save_last=save_last,
            save_best=save_best,
            rule=rule,
            greater_keys=greater_keys,
            less_keys=less_keys,
            file_client_args=file_client_args,
            filename_tmpl=filename_tmpl,
            backend_args=backend_args,
            published_keys=published_keys,
            save_begin=save_begin)
        for name, value in (('rolling_interval', rolling_interval),
                            ('rolling_iters', rolling_iters)):
            if value is not None and value < 0:
                raise ValueError(
                    f'default_hooks.checkpoint.{name}={value}: it must be '
                    f'positive (or None to turn it off), e.g. --cfg-options '
                    f'default_hooks.checkpoint.{name}=None')
        self.rolling_interval = rolling_interval or None
        self.rolling_iters = rolling_iters or None
        self._last_save_time = time.monotonic()
        self._last_save_iter = -1
        self._latest_iter = -1  # what latest.pth holds
        register_atomic_backend()
        local = self.out_dir is None or '://' not in str(self.out_dir)
        if local and self.backend_args is None and (
                self.file_client_args is None):
            self.backend_args = dict(backend=ATOMIC_BACKEND)

    # -- before anything is loaded -----------------------------------------
    def before_run(self, runner) -> None:
        log = lambda message: print_log(  # noqa: E731
            message, 'current', level=logging.WARNING)
        if is_main_process():
            for folder in {runner.work_dir, self.out_dir or runner.work_dir}:
                if '://' not in str(folder) and osp.isdir(folder):
                    remove_stale_temp_files(folder, log)
        if runner._resume and runner._load_from is None:
            path = find_resumable_checkpoint(runner.work_dir, log)
            if path is None:
                log(f'--resume: no valid checkpoint in {runner.work_dir}; '
                    f'training starts from the beginning.')
                runner._resume = False
            else:
                print_log(f'Resuming from {path}, the newest valid '
                          f'checkpoint.', 'current')
                runner._load_from = path

    # -- saving ------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = nonfinite_tensors(
            dict(state_dict=checkpoint.get('state_dict', {}),
                 optimizer=checkpoint.get('optimizer', {})))
        if bad:
            raise NonFiniteCheckpointError(
                f'Refusing to save a checkpoint at iteration {runner.iter}: '
                f'NaN/inf in {describe_nonfinite(bad)}. '
                f'{self._on_disk(runner)}')
        loop = getattr(runner, '_train_loop', None)
        if hasattr(loop, 'state_dict'):
            checkpoint['train_loop'] = loop.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = getattr(runner, '_train_loop', None)
        if 'train_loop' in checkpoint and hasattr(loop, 'load_state_dict'):
            loop.load_state_dict(checkpoint['train_loop'])

    # -- the rolling checkpoint ----------------------------------------------
    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._last_save_time = time.monotonic()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        done = runner.iter + 1
        if done == self._last_save_iter:  # a checkpoint of this iteration
            return
        due_by_count = self.rolling_iters and done % self.rolling_iters == 0
        due_by_time = self.rolling_interval and (
            time.monotonic() - self._last_save_time >= self.rolling_interval)
        if due_by_count or due_by_time:
            self.save_latest(runner, iteration=done)

    def save_latest(self, runner, iteration: int) -> str:
        """Write ``latest.pth`` (atomically, replacing the previous one)
        after ``iteration`` iterations, and point ``last_checkpoint`` at it.

        Args:
            runner: The Runner.
            iteration (int): The number of iterations done (what ``--resume``
                continues after).

        Returns:
            str: The path written.
        """
        out_dir = self.out_dir or runner.work_dir
        path = self.file_backend.join_path(out_dir, ROLLING_NAME)
        if self._latest_iter == iteration:  # e.g. a stop right after one
            return path
        self._save(
            runner,
            path,
            out_dir=out_dir,
            filename=ROLLING_NAME,
            file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=dict(epoch=runner.epoch, iter=iteration),
            by_epoch=False,
            backend_args=self.backend_args,
            **self.args)
        self._latest_iter = iteration
        if is_main_process():
            atomic_write(path, osp.join(runner.work_dir, 'last_checkpoint'))
        return path

    def _on_disk(self, runner) -> str:
        folder = self.out_dir or runner.work_dir
        names = sorted(
            name for name in (os.listdir(folder) if osp.isdir(folder) else [])
            if name.endswith('.pth')
            and (is_checkpoint_name(name) or name.startswith('best_')))
        if not names:
            return f'No checkpoint is on disk yet in {folder}.'
        return (f'The checkpoints on disk are intact: {", ".join(names)} in '
                f'{folder}; `tools/train.py CONFIG --resume` continues from '
                f'the newest valid one.')

    def _save(self, runner, path: str, **kwargs) -> None:
        # what the rolling checkpoint counts from (on every rank: the save
        # itself happens on the main process only)
        self._last_save_time = time.monotonic()
        self._last_save_iter = (kwargs.get('meta') or {}).get('iter') or (
            runner.iter if kwargs.get('by_epoch') else runner.iter + 1)
        try:
            runner.save_checkpoint(**kwargs)
        except NonFiniteCheckpointError:
            raise
        except OSError as e:
            raise CheckpointSaveError(
                f'Could not save checkpoint {path}: {e}. Nothing was '
                f'half-written. {self._on_disk(runner)} Free some space (or '
                f'lower default_hooks.checkpoint.max_keep_ckpts), then '
                f'resume.') from e

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        retired = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                retired = self.keep_ckpt_ids[0]
            self.keep_ckpt_ids.append(step)  # the deque drops the oldest
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._save(
            runner,
            self.last_ckpt,
            out_dir=self.out_dir,
            filename=ckpt_filename,
            file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(self.last_ckpt, osp.join(runner.work_dir,
                                              'last_checkpoint'))
        if retired is not None and retired != step:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(retired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine removes the previous best, then saves the new one;
        # queue the removal until the new one is written.
        backend = self.file_backend
        deferred = self.file_backend = _RemovalsDeferred(backend)
        real_save = runner.save_checkpoint

        def save(out_dir, filename, *args, **kwargs):
            path = osp.join(out_dir, filename)
            try:
                real_save(out_dir, filename, *args, **kwargs)
            except NonFiniteCheckpointError:
                raise
            except OSError as e:
                raise CheckpointSaveError(
                    f'Could not save checkpoint {path}: {e}. Nothing was '
                    f'half-written. {self._on_disk(runner)}') from e

        runner.save_checkpoint = save
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint
            self.file_backend = backend
        keep = [getattr(self, 'best_ckpt_path', None), self.last_ckpt,
                *getattr(self, 'best_ckpt_path_dict', {}).values()]
        deferred.run(keep)
