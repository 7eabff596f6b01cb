"""The resume policy: newest written checkpoint first, latest.pth among
them; restarted processes resume by themselves; random states round-trip
through a safely loaded checkpoint."""
import os
import random

import numpy as np
import pytest
import torch

from fcos_mm.engine.hooks import CheckpointHook
from fcos_mm.engine.resume import (
    auto_resume_reason,
    capture_rng_state,
    restore_rng_state,
    resume_candidates,
)
from fcos_mm.utils import load_safely


def test_candidates_are_ordered_by_write_time_latest_included(tmp_path):
    for name, written in (('epoch_1.pth', 100), ('iter_5.pth', 200),
                          ('latest.pth', 300), ('epoch_2.pth', 400),
                          ('best_coco_bbox_mAP_epoch_1.pth', 500),
                          ('notes.pth', 600)):
        path = tmp_path / name
        path.write_bytes(b'x')
        os.utime(path, ns=(written * 10**9, written * 10**9))
    assert resume_candidates(str(tmp_path)) == [
        str(tmp_path / n)
        for n in ('epoch_2.pth', 'latest.pth', 'iter_5.pth', 'epoch_1.pth')
    ]


def test_restarts_resume_by_themselves():
    assert auto_resume_reason({}) is None
    assert auto_resume_reason(dict(TORCHELASTIC_RESTART_COUNT='0')) is None
    assert auto_resume_reason(dict(TORCHELASTIC_RESTART_COUNT='2')) == (
        'TORCHELASTIC_RESTART_COUNT=2: this process is a restart')
    assert 'SLURM_RESTART_COUNT=1' in auto_resume_reason(
        dict(SLURM_RESTART_COUNT='1'))


def test_random_states_round_trip_through_a_safe_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    torch.save(dict(rng=capture_rng_state()), tmp_path / 'state.pth')
    expected = (random.random(), np.random.rand(), float(torch.rand(())))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(load_safely(str(tmp_path / 'state.pth'))['rng'])
    assert (random.random(), np.random.rand(),
            float(torch.rand(()))) == expected


def test_a_negative_rolling_interval_is_refused_with_the_fix():
    with pytest.raises(ValueError, match='rolling_iters=None'):
        CheckpointHook(interval=1, rolling_iters=-5)
    hook = CheckpointHook(interval=1, rolling_interval=0, rolling_iters=3)
    assert hook.rolling_interval is None and hook.rolling_iters == 3
