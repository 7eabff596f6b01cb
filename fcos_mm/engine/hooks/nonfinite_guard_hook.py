"""Report the optimizer steps the step guard skipped, and stop a run that
keeps producing them.

The guard itself (:mod:`fcos_mm.engine.optim_wrappers.step_guard`) skips a
step with a non-finite loss or gradient on the device. This hook turns it on
before training, keeps each step's record (device tensors) with the batch's
image paths, and once per logging interval reads them all with one host
transfer; then, for each skipped step, it logs a warning naming the
iteration, the rank, the non-finite loss terms, the gradient norm, the first
parameter with a non-finite gradient and the batch's images, appends the
same as a line of ``work_dir/nonfinite_steps.jsonl``, and optionally saves
the batch (``dump_bad_batches``, :mod:`fcos_mm.engine.bad_batch`) for
:mod:`fcos_mm.analysis.replay_batch`.

Iterations are numbered from 1, as in the log's ``Iter(train) [N/...]``.
"""
import json
import logging
import os.path as osp
from collections import deque
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from fcos_mm.registry import HOOKS

from ..bad_batch import save_bad_batch, to_plain
from ..errors import NonFiniteTrainingError
from ..optim_wrappers.step_guard import StepGuardMixin, unpack_records
from ..resume import resume_candidates
from .checkpoint_hook import CheckpointHook


def clip_grad_advice(optim_wrapper: dict) -> str:
    """How to turn gradient clipping on, in the two forms that work as
    written for a config whose ``optim_wrapper`` is this (tested in
    tests/test_tools/test_true_messages.py).

    ``--cfg-options optim_wrapper.clip_grad=dict(...)`` was mmengine's
    ``RecursionError``; the dotted fields work (through a ``clip_grad=None``
    too: :func:`~fcos_mm.utils.tool_args.merge_cfg_options`). A child
    config must replace a base's ``clip_grad=None`` with ``_delete_=True``,
    which mmengine keeps as a key where the base has no ``clip_grad``.
    """
    delete = '_delete_=True, ' if 'clip_grad' in optim_wrapper else ''
    return ('turn it on with `--cfg-options '
            'optim_wrapper.clip_grad.max_norm=35 '
            'optim_wrapper.clip_grad.norm_type=2` (tools/train.py), or in a '
            f'child config `optim_wrapper = dict(clip_grad=dict({delete}'
            'max_norm=35, norm_type=2))`')


def checkpoint_status(runner) -> str:
    """What a stopped run leaves to resume from, true for this run: the
    newest checkpoint in the checkpoint folder (our ``CheckpointHook``
    never writes one with NaN/inf), or that there is none yet."""
    hooks = [h for h in runner.hooks if isinstance(h, MMEngineCheckpointHook)]
    folder = (getattr(hooks[0], 'out_dir', None) if hooks else None) or (
        runner.work_dir)
    paths = [p for p in resume_candidates(folder) if osp.isfile(p)]
    if not paths:
        when = ''
        if hooks and hooks[0].interval > 0:
            interval = hooks[0].interval
            unit = ('epoch' if hooks[0].by_epoch else 'iteration') + (
                's' if interval > 1 else '')
            when = (f' (default_hooks.checkpoint saves every {interval} '
                    f'{unit})')
        return (f'No checkpoint has been written yet in {folder}{when}: '
                f'a new run starts from the beginning (or load_from).')
    ours = hooks and isinstance(hooks[0], CheckpointHook)
    finite = (' (the checkpoint hook never writes one with NaN/inf)'
              if ours else '')
    return (f'The newest checkpoint is {paths[0]}{finite}; '
            f'`tools/train.py CONFIG --resume` continues from the newest '
            f'one that loads and is finite.')


def _guarded_wrappers(optim_wrapper) -> List:
    if isinstance(optim_wrapper, OptimWrapperDict):
        return list(optim_wrapper.values())
    return [optim_wrapper]


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Turn on the step guard, name each skipped step, stop when it is not a
    blip.

    Args:
        enabled (bool): False turns the guard off (the wrappers then behave
            exactly as mmengine's). Defaults to True.
        interval (int, optional): Read the records every this many
            iterations (and at each epoch's end). Defaults to the
            ``LoggerHook``'s interval.
        max_consecutive (int): Stop after this many skipped steps in a row.
            Defaults to 5.
        window (int): The window for ``max_fraction``, in optimizer steps.
            Defaults to 100.
        max_fraction (float): Stop when more than this fraction of the last
            ``window`` steps were skipped. Defaults to 0.2.
        dump_bad_batches (bool): Save each skipped step's batch (images,
            metainfo, ground truth) under ``work_dir/bad_batches/``, to
            replay it (``tools/analysis_tools/replay_batch.py``). Keeps the
            batches of one interval in memory. Defaults to False.
        out_file (str): The JSON-lines file in the work dir. Defaults to
            ``'nonfinite_steps.jsonl'``.

    Float16 overflows that ``GradScaler`` skips (a finite loss, inf
    gradients) are expected now and then with a dynamic loss scale: they
    are counted and logged at INFO, never a reason to stop.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook, which logs grad_norm

    def __init__(self,
                 enabled: bool = True,
                 interval: Optional[int] = None,
                 max_consecutive: int = 5,
                 window: int = 100,
                 max_fraction: float = 0.2,
                 dump_bad_batches: bool = False,
                 out_file: str = 'nonfinite_steps.jsonl') -> None:
        if max_consecutive < 1:
            raise ValueError(f'max_consecutive must be >= 1, got '
                             f'{max_consecutive}')
        if not 0 < max_fraction <= 1:
            raise ValueError(f'max_fraction must be in (0, 1], got '
                             f'{max_fraction}')
        self.enabled = enabled
        self.interval = interval
        self.max_consecutive = max_consecutive
        self.window = window
        self.max_fraction = max_fraction
        self.dump_bad_batches = dump_bad_batches
        self.out_file = out_file
        self.skipped_steps = 0
        self.overflow_steps = 0
        self._consecutive = 0
        self._streak_start = 0
        self._recent: deque = deque(maxlen=window)
        self._pending: List[Dict] = []
        self._last_records: Dict[int, object] = {}

    # -- set-up ------------------------------------------------------------
    def before_train(self, runner) -> None:
        wrappers = _guarded_wrappers(runner.optim_wrapper)
        unguarded = [
            type(w).__name__ for w in wrappers
            if not isinstance(w, StepGuardMixin)
        ]
        for wrapper in wrappers:
            if isinstance(wrapper, StepGuardMixin):
                wrapper.enable_step_guard(self.enabled)
        self._wrappers = [w for w in wrappers if isinstance(w, StepGuardMixin)]
        if not self.enabled:
            print_log('The non-finite step guard is off: a NaN/inf loss or '
                      'gradient will be applied to the weights.', 'current',
                      level=logging.WARNING)
            return
        if unguarded:
            print_log(
                f'The non-finite step guard cannot watch {unguarded}: only '
                f"fcos_mm's OptimWrapper, AutocastOptimWrapper and "
                f'AmpOptimWrapper (the default types in scope fcos_mm) '
                f'carry it.', 'current', level=logging.WARNING)
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self.interval = loggers[0].interval if loggers else 50
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._param_names = {
            id(p): name
            for name, p in model.named_parameters()
        }
        self._out_path = osp.join(runner.work_dir, self.out_file)

    # -- each iteration: keep device tensors, read nothing ---------------
    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.enabled or not self._wrappers:
            return
        for index, wrapper in enumerate(self._wrappers):
            record = wrapper.last_step_record
            if record is None or self._last_records.get(index) is record:
                continue  # no optimizer step this iteration (accumulation)
            self._last_records[index] = record
            samples = (data_batch or {}).get('data_samples') or []
            losses = {
                name: value.detach()
                for name, value in (outputs or {}).items()
                if isinstance(value, torch.Tensor) and 'loss' in name
            }
            self._pending.append(
                dict(
                    iter=runner.iter + 1,
                    record=record,
                    losses=losses,
                    images=[
                        dict(
                            img_path=sample.metainfo.get('img_path'),
                            img_id=to_plain(sample.metainfo.get('img_id')))
                        for sample in samples
                    ],
                    batch=data_batch if self.dump_bad_batches else None))
        if (self.every_n_train_iters(runner, self.interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)
                or self.is_last_train_iter(runner)):
            self._flush(runner)

    def after_train(self, runner) -> None:
        if self.enabled and self._pending:
            self._flush(runner)

    # -- once per interval -------------------------------------------------
    def _read(self) -> List[Dict]:
        """All pending records and losses in one host transfer."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        records = torch.cat([p['record']['values'] for p in pending])
        losses = [value.reshape(-1)[:1].to(records) for p in pending
                  for value in p['losses'].values()]
        flat = torch.cat([records] + losses).tolist()
        loss_values = iter(flat[records.numel():])
        return [
            dict(p, **row, losses={name: next(loss_values)
                                   for name in p['losses']})
            for p, row in zip(pending, unpack_records(flat[:records.numel()]))
        ]

    def _flush(self, runner) -> None:
        rows = self._read()
        bad = []
        for row in rows:
            if not row['skipped']:
                runner.message_hub.update_scalar('train/grad_norm',
                                                 row['grad_norm'])
                self._count(applied=True)
            elif row['overflow']:
                self.overflow_steps += 1
                print_log(
                    f'Iteration {row["iter"]}: float16 gradients overflowed '
                    f'at loss scale {row["loss_scale"]:g}; GradScaler '
                    f'skipped the step and lowered the scale '
                    f'({self.overflow_steps} such steps so far).', 'current')
            else:
                bad.append(self._describe(runner, row))
                self._count(applied=False)
                if self._consecutive == 1:
                    self._streak_start = row['iter']
        if bad or get_world_size() > 1:
            self._report(runner, bad)
        runner.message_hub.update_info('nonfinite_skipped_steps',
                                       self.skipped_steps)
        reason = self._stop_reason()
        if reason:
            message = self._stop_message(runner, reason, bad)
            print_log(message, 'current', level=logging.WARNING)
            raise NonFiniteTrainingError(message)

    def _count(self, applied: bool) -> None:
        self._recent.append(0 if applied else 1)
        if applied:
            self._consecutive = 0
        else:
            self._consecutive += 1
            self.skipped_steps += 1

    def _describe(self, runner, row: Dict) -> Dict:
        index = int(row['first_nonfinite'])
        param = None
        if index >= 0:
            params = row['record']['params']
            param = self._param_names.get(id(params[index]), f'#{index}')
        nonfinite = {
            name: value
            for name, value in row['losses'].items()
            if not np.isfinite(value)
        }
        if len(nonfinite) > 1:  # name the terms, not also their sum
            nonfinite.pop('loss', None)
        entry = dict(
            iter=row['iter'],
            rank=get_rank(),
            nonfinite_losses={k: str(v) for k, v in nonfinite.items()},
            grad_norm=str(row['grad_norm']) if not np.isfinite(
                row['grad_norm']) else row['grad_norm'],
            first_nonfinite_grad=param,
            images=row['images'])
        if self.dump_bad_batches and row['batch'] is not None:
            entry['dump'] = save_bad_batch(row['batch'], runner.work_dir,
                                           row['iter'], get_rank())
        return entry

    def _report(self, runner, bad: List[Dict]) -> None:
        """Log each skipped step (every rank's, gathered) and append them
        to the JSON-lines file (rank 0)."""
        everyone = bad
        if get_world_size() > 1:
            # Ranks agree on which steps were skipped (the flag is reduced
            # over ranks), so either all of them gather here or none.
            everyone = [e for rank_bad in all_gather_object(bad)
                        for e in rank_bad]
        if get_rank() != 0 or not everyone:
            return
        with open(self._out_path, 'a') as f:
            for entry in everyone:
                f.write(json.dumps(entry) + '\n')
        for entry in everyone:
            print_log(self._line(entry), 'current', level=logging.WARNING)

    @staticmethod
    def _line(entry: Dict) -> str:
        losses = ', '.join(f'{k}={v}'
                           for k, v in entry['nonfinite_losses'].items())
        cause = (f'non-finite loss {losses}' if losses else
                 'finite losses but a non-finite gradient')
        grad = entry['first_nonfinite_grad']
        where = f', first non-finite gradient in {grad}' if grad else ''
        images = ', '.join(
            f'{osp.basename(str(i["img_path"]))} (img_id {i["img_id"]})'
            for i in entry['images']) or 'no image metadata'
        dump = f' Batch saved to {entry["dump"]}.' if 'dump' in entry else ''
        return (f'Skipped the update of iteration {entry["iter"]} (rank '
                f'{entry["rank"]}): {cause}; grad_norm={entry["grad_norm"]}'
                f'{where}. Weights and optimizer state are unchanged. '
                f'Batch: {images}.{dump}')

    def _stop_reason(self) -> Optional[str]:
        if self._consecutive >= self.max_consecutive:
            last = self._streak_start + self._consecutive - 1
            return (f'{self._consecutive} optimizer steps in a row '
                    f'(iterations {self._streak_start}-{last}) were skipped '
                    f'for non-finite values (max_consecutive='
                    f'{self.max_consecutive})')
        skipped = sum(self._recent)
        if skipped > self.max_fraction * self.window:
            return (f'{skipped} of the last {len(self._recent)} optimizer '
                    f'steps were skipped for non-finite values (more than '
                    f'max_fraction={self.max_fraction} of a window of '
                    f'{self.window})')
        return None

    def _stop_message(self, runner, reason: str, bad: List[Dict]) -> str:
        cfg = runner.cfg
        lrs = {}
        for wrapper in self._wrappers:
            lrs.update({k: v[0] for k, v in wrapper.get_lr().items()})
        batch = cfg.get('train_dataloader', {}).get('batch_size', '?')
        total = batch * get_world_size() if isinstance(batch, int) else '?'
        base = cfg.get('auto_scale_lr', {}).get('base_batch_size')
        base_text = (f' (the config sets its lr for a total batch of {base}:'
                     f' --auto-scale-lr scales it)' if base else '')
        warmups = [
            f'{s.get("type")} until {"epoch" if s.get("by_epoch") else "iter"}'
            f' {s.get("end")}' for s in cfg.get('param_scheduler') or []
            if isinstance(s, dict) and s.get('type') in ('LinearLR',
                                                         'ConstantLR')
        ]
        clip = cfg.get('optim_wrapper', {}).get('clip_grad')
        last = self._line(bad[-1]) if bad else ''
        configured = cfg.get('optim_wrapper', {}).get('optimizer',
                                                       {}).get('lr')
        lr_text = (f'lr {configured:g} in the config, '
                   if isinstance(configured, (int, float)) else 'lr ') + \
            f'{lrs.get("lr", float("nan")):g} now'
        return '\n'.join([
            f'Training stopped at iteration {runner.iter + 1}: {reason}.',
            f'Last: {last}' if last else '',
            'No weights were changed by the skipped steps. ' +
            checkpoint_status(runner),
            f'Details of every skipped step: {self._out_path}.',
            'Likely causes, and what to try:',
            f'  - learning rate too high for the batch: {lr_text} for a '
            f'total batch of {total}{base_text}; lower it.',
            '  - warm-up too short: ' + (
                ', '.join(warmups) if warmups else 'no LinearLR/ConstantLR '
                'warm-up in param_scheduler') + '; lengthen it.',
            (f'  - gradient clipping: clip_grad={dict(clip)} is set; a '
             f'lower max_norm clips harder.' if clip else
             f'  - no gradient clipping: '
             f'{clip_grad_advice(cfg.get("optim_wrapper", {}))}.'),
            '  - degenerate boxes or bad annotations: python '
            'tools/misc/check_dataset.py CONFIG; replay a batch with '
            '--dump-bad-batches and tools/analysis_tools/replay_batch.py.',
        ]).replace('\n\n', '\n')
