"""Regress ranges proposed from the training boxes
(``fcos_statistics.propose_regress_ranges``, ``fcos_statistics.py
--propose-ranges``), on two boxes worked out by hand.

One 64x64 image, two levels (strides 8, 16), centre sampling. Locations
(offset 0.5): stride 8 at 4, 12, ..., 60; stride 16 at 8, 24, 40, 56. A
location is a candidate when strictly inside the box and its centre region
(centre +- radius x stride), and ``low <= max(l, t, r, b) <= high``.

* A = (8, 8, 24, 24): stride 8 (region +-12, or +-8 at radius 1): 12, 20 on
  each axis, 4 locations, each with max distance 12 (e.g. (12, 12): l = t =
  4, r = b = 12). Stride 16: no location strictly inside (8 and 24 are on
  its sides).
* B = (16, 16, 48, 48): stride 8: 28, 36 (20 is on the region's side at
  radius 1.5), 4 locations of max distance 20. Stride 16: 24, 40, 4
  locations of max distance 24.

With ranges ((-1, m), (m, INF)):

=============  ===========  =========  =============
m              A            B          share of P3
=============  ===========  =========  =============
m < 12         lost         4 on P4    0 (BPR 1/2)
12 <= m < 20   4 on P3      4 on P4    1/2
20 <= m < 24   4 on P3      4 + 4      2/3
m >= 24        4 on P3      4 on P3    1
=============  ===========  =========  =============

The ratios tried give m = round(8 x 2^(j/4)) = 8, 10, 11, 13, 16, 19, 23,
27, 32, ...: 8-11 lose A, 13, 16 and 19 split 1/2, the largest of those
(ratio 2^(5/4) = 2.378, m = 19) wins; its radius is max(1, floor(4 x
2.378 / 2) / 4) = 1.0, which keeps the same locations.
"""
import argparse
import importlib.util
import os
import os.path as osp
import shlex
import subprocess
import sys

import pytest
import torch
from mmengine.config import DictAction

from fcos_mm.analysis.fcos_statistics import (
    INF,
    PAPER_RANGE_RATIO,
    AssignmentStatistics,
    dominant_level,
    format_proposal,
    format_ranges,
    ladder_ranges,
    level_shares,
    proposal_cfg_options,
    proposal_radius,
    propose_regress_ranges,
)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
STRIDES = (8, 16)
BOXES = torch.tensor([[8., 8., 24., 24.], [16., 16., 48., 48.]])
SAMPLES = [((64, 64), BOXES, torch.tensor([0, 0]))]
_spec = importlib.util.spec_from_file_location(
    'level_fixtures', osp.join(osp.dirname(__file__), 'level_fixtures.py'))
level_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(level_fixtures)


# one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_ladder_ranges_give_the_paper_and_demo_ranges():
    strides = (8, 16, 32, 64, 128)
    assert ladder_ranges(strides, PAPER_RANGE_RATIO) == (
        (-1, 64), (64, 128), (128, 256), (256, 512), (512, INF))
    assert ladder_ranges(strides, 1.5) == ((-1, 12), (12, 24), (24, 48),
                                           (48, 96), (96, INF))
    assert ladder_ranges(STRIDES, 2**(5 / 4)) == ((-1, 19), (19, INF))


def test_proposal_radius():
    assert proposal_radius(8.0) == 1.5  # the paper's
    assert proposal_radius(3.0) == 1.5
    assert proposal_radius(2**(7 / 4)) == 1.5  # 3.36 / 2 = 1.68
    assert proposal_radius(2.5) == 1.25
    assert proposal_radius(2**(5 / 4)) == 1.0
    assert proposal_radius(1.0) == 1.0  # not under one stride


def test_shares_and_dominant_level():
    stats = AssignmentStatistics(strides=(8, 16, 32))
    stats.positives_per_level = [1, 6, 3]
    assert level_shares(stats) == [0.1, 0.6, 0.3]
    assert dominant_level(stats) == (1, 0.6)
    assert dominant_level(stats, max_share=0.6) is None
    assert level_shares(AssignmentStatistics(strides=(8, ))) == [0.0]


def test_proposal_on_two_boxes_worked_out_by_hand():
    proposal = propose_regress_ranges(
        SAMPLES,
        num_classes=1,
        current_ranges=ladder_ranges(STRIDES, PAPER_RANGE_RATIO),
        strides=STRIDES,
        center_sampling=True,
        center_sample_radius=1.5)
    # the config's ranges (-1, 64), (64, INF): both boxes on P3
    assert proposal.current_ranges == ((-1, 64), (64, INF))
    assert proposal.current_stats.positives_per_level == [8, 0]
    assert dominant_level(proposal.current_stats) == (0, 1.0)
    tried = {round(8 * ratio): (share, bpr)
             for ratio, share, bpr in proposal.tried}
    assert [m for m, (_, bpr) in tried.items() if bpr == 0.5] == [8, 10, 11]
    assert [m for m, (share, bpr) in tried.items()
            if share == 0.5 and bpr == 1] == [13, 16, 19]
    assert tried[23] == (pytest.approx(2 / 3), 1.0)
    assert all(tried[m] == (1.0, 1.0) for m in (27, 32, 38, 45, 54, 64))
    assert proposal.ratio == pytest.approx(2**(5 / 4))
    assert proposal.regress_ranges == ((-1, 19), (19, INF))
    assert proposal.center_sample_radius == 1.0
    assert proposal.stats.positives_per_level == [4, 4]
    assert proposal.stats.bpr == 1.0


def test_radius_is_never_raised_above_the_configs():
    proposal = propose_regress_ranges(
        SAMPLES, 1, ((-1, 64), (64, INF)), STRIDES, True,
        center_sample_radius=0.75)
    assert proposal.center_sample_radius == 0.75
    without = propose_regress_ranges(SAMPLES, 1, ((-1, 64), (64, INF)),
                                     STRIDES, center_sampling=False)
    assert without.center_sample_radius == 1.5  # unused, left as it was


def _parse_cfg_options(text):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    # the shell's word splitting of the printed arguments
    return parser.parse_args(['--cfg-options'] +
                             shlex.split(text)).cfg_options


def test_printed_proposal_pastes_back_as_cfg_options():
    proposal = propose_regress_ranges(SAMPLES, 1, ((-1, 64), (64, INF)),
                                      STRIDES, True, 1.5)
    options = proposal_cfg_options(proposal)
    assert options == ('"model.train_cfg.assigner.regress_ranges='
                       '((-1,19),(19,1e+08))" '
                       'model.train_cfg.assigner.center_sample_radius=1')
    parsed = _parse_cfg_options(options)
    ranges = parsed['model.train_cfg.assigner.regress_ranges']
    assert [list(r) for r in ranges] == [[-1, 19], [19, INF]]
    assert parsed['model.train_cfg.assigner.center_sample_radius'] == 1
    text = format_proposal(proposal)
    assert 'P3: 8 (100%), P4: 0 (0%)' in text
    assert 'P3: 4 (50%), P4: 4 (50%)' in text
    assert 'regress_ranges=((-1, 19), (19, INF)),' in text
    assert 'center_sample_radius=1)))' in text
    assert format_ranges(((-1, 12), (96, INF))) == '((-1, 12), (96, INF))'


def test_tool_prints_the_proposal(tmp_path):
    # fcos_statistics.py --propose-ranges on the same two boxes, from a
    # config and a COCO json on disk
    import cv2
    import numpy as np
    config = level_fixtures.write_two_box_set(tmp_path, cv2, np)
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/fcos_statistics.py', config,
         '--propose-ranges'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert 'current regress ranges ((-1, 64), (64, INF)):' in out
    assert 'positives 8, BPR 100.00%; P3: 8 (100%), P4: 0 (0%)' in out
    assert ('proposed (boundaries 2.38 x stride, centre sampling radius 1)'
            in out)
    assert 'positives 8, BPR 100.00%; P3: 4 (50%), P4: 4 (50%)' in out
    assert ('--cfg-options "model.train_cfg.assigner.regress_ranges='
            '((-1,19),(19,1e+08))" '
            'model.train_cfg.assigner.center_sample_radius=1') in out
