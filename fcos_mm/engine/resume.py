"""Resume policy: which checkpoint a run continues from, when it does so
without being asked, and the random state a checkpoint carries.

Safe *loading* lives in :mod:`fcos_mm.utils.checkpoint`; this module decides
*what* to resume:

- :func:`resume_candidates` / :func:`find_resumable_checkpoint`: the newest
  checkpoint of the work dir that loads safely, holds what its name says and
  is finite (each one passed over is logged with why). The candidates are
  ``epoch_N.pth``, ``iter_N.pth`` and the rolling / stop checkpoint
  :data:`ROLLING_NAME`, newest written first.
- :func:`auto_resume_reason`: a process that torchrun restarted after a
  failure (``TORCHELASTIC_RESTART_COUNT`` > 0) or that Slurm requeued
  (``SLURM_RESTART_COUNT`` > 0) resumes without ``--resume``.
- :func:`capture_rng_state` / :func:`restore_rng_state`: python, numpy and
  torch (CPU, and CUDA where present) generator states, saved in each
  checkpoint by :class:`~fcos_mm.engine.loops.EpochBasedTrainLoop` so that a
  resumed run continues with the random stream the stopped one had.
"""
import os
import os.path as osp
import random
import re
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np
import torch

from fcos_mm.utils.checkpoint import (
    describe_nonfinite,
    load_safely,
    nonfinite_tensors,
)

CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
# Written by time / every N iterations and when a stop signal arrives;
# replaces itself (see fcos_mm.engine.hooks.CheckpointHook).
ROLLING_NAME = 'latest.pth'
RESTART_VARIABLES = ('TORCHELASTIC_RESTART_COUNT', 'SLURM_RESTART_COUNT')


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is one of the checkpoints a resume may pick."""
    return name == ROLLING_NAME or CHECKPOINT_NAME.match(name) is not None


def why_not_resumable(path: str) -> Optional[str]:
    """Why the checkpoint at ``path`` cannot be resumed from, or None.

    It must load with :func:`~fcos_mm.utils.checkpoint.load_safely`, hold
    ``meta`` and ``state_dict``, say the epoch / iteration its name says
    (``epoch_N.pth``, ``iter_N.pth``), and hold no NaN / inf in its weights
    or optimizer state.
    """
    try:
        checkpoint = load_safely(path, map_location='cpu')
    except Exception as e:  # each reason is reported, none is fatal here
        return f'{type(e).__name__}: {e}'
    if not isinstance(checkpoint, dict):
        return f'it holds a {type(checkpoint).__name__}, not a dict'
    missing = [k for k in ('meta', 'state_dict') if k not in checkpoint]
    if missing:
        return f'it lacks {missing}'
    match = CHECKPOINT_NAME.match(osp.basename(path))
    if match:
        kind, number = match.group(1), int(match.group(2))
        recorded = checkpoint['meta'].get(kind)
        if recorded != number:
            return (f'its name says {kind} {number} but its meta says '
                    f'{kind}={recorded}')
    bad = nonfinite_tensors(
        dict(state_dict=checkpoint['state_dict'],
             optimizer=checkpoint.get('optimizer', {})))
    if bad:
        return f'NaN/inf in {describe_nonfinite(bad)}'
    return None


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest written first (then the higher
    N first), then the file ``last_checkpoint`` names if it is elsewhere.

    The write time orders ``latest.pth`` (no number) among the numbered
    ones, and ``epoch_N`` among ``iter_N``; a run resumed from an older
    checkpoint into the same folder writes newer files than the ones it
    abandoned, so its own come first.
    """
    found = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            if not is_checkpoint_name(name):
                continue
            path = osp.join(work_dir, name)
            match = CHECKPOINT_NAME.match(name)
            number = int(match.group(2)) if match else -1
            try:
                written = os.stat(path).st_mtime_ns
            except OSError:  # removed meanwhile
                continue
            found.append((written, number, path))
    paths = [path for _, _, path in sorted(found, reverse=True)]
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.abspath(named) not in map(osp.abspath, paths):
            paths.append(named)
    return paths


def find_resumable_checkpoint(work_dir: str,
                              log: Callable[[str], None] = print
                              ) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` that :func:`why_not_resumable`
    accepts; each one rejected on the way is logged with why."""
    for path in resume_candidates(work_dir):
        reason = why_not_resumable(path)
        if reason is None:
            return path
        log(f'Not resuming from {path}: {reason}.')
    return None


def auto_resume_reason(env: Optional[Mapping[str, str]] = None
                       ) -> Optional[str]:
    """Why this process should resume without ``--resume``, or None.

    torchrun sets ``TORCHELASTIC_RESTART_COUNT`` (0 on the first start) and
    Slurm ``SLURM_RESTART_COUNT`` (set once a job is requeued): a positive
    count means this is a restart of a run that already trained.
    """
    env = os.environ if env is None else env
    for name in RESTART_VARIABLES:
        value = env.get(name, '0')
        if value.isdigit() and int(value) > 0:
            return f'{name}={value}: this process is a restart'
    return None


def capture_rng_state() -> Dict[str, object]:
    """The python, numpy, torch CPU (and CUDA) generator states, in types
    our safe loader reads back (tuples, arrays, tensors)."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, object]) -> None:
    """Set the generators from :func:`capture_rng_state`'s result (a
    missing entry leaves that generator as it is)."""
    if 'python' in state:
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
    if 'numpy' in state:
        np.random.set_state(tuple(state['numpy']))
    if 'torch' in state:
        torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        cuda = list(state['cuda'])
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
