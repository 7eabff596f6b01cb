"""The data check's warning when most positives fall on one level
(``level_check.check_level_balance``), on the two-box set of
level_fixtures.py (counts worked out in test_regress_range_proposal.py):
with the paper's ranges ((-1, 64), (64, INF)) all 8 positives are on P3;
the proposal ((-1, 19), (19, INF)) puts 4 on each level."""
import copy
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from fcos_mm.analysis.level_check import check_level_balance
from fcos_mm.datasets.check_dataset import run_check

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'level_fixtures', osp.join(osp.dirname(__file__), 'level_fixtures.py'))
level_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(level_fixtures)
WARNING = ('WARNING most positive locations on one level (regress ranges '
           'that do not fit the resized boxes): 1 (P3: 8 of 8 (100%) with '
           'regress_ranges ((-1, 64), (64, INF)); ranges that fit (fullest '
           'level 50%; tools/analysis_tools/fcos_statistics.py '
           '--propose-ranges): --cfg-options '
           '"model.train_cfg.assigner.regress_ranges=((-1,19),(19,1e+08))" '
           'model.train_cfg.assigner.center_sample_radius=1)')


# one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_warns_with_the_proposal(tmp_path):
    config = level_fixtures.write_two_box_set(tmp_path, cv2, np)
    reports, text = run_check(Config.fromfile(config), ['train'],
                              workers=1, progress=False,
                              model_checks=[check_level_balance])
    assert WARNING in text
    assert reports[0].count('warning') == 1
    assert text.endswith('0 error(s), 1 warning(s); nothing would stop '
                         'training.')


def test_returns_what_it_found(tmp_path):
    config = Config.fromfile(
        level_fixtures.write_two_box_set(tmp_path, cv2, np))
    reports, _ = run_check(config, ['train'], workers=1, progress=False)
    found = check_level_balance(config, reports)
    assert (found['level'], found['share'], found['positives']) == ('P3',
                                                                    1.0, 8)
    assert found['proposal'].regress_ranges == ((-1, 19), (19, 1e8))
    # 100% is over any threshold below 1
    assert check_level_balance(config, reports, max_share=0.99) is not None


def test_no_warning_when_the_ranges_fit(tmp_path):
    # the proposal itself: 4 and 4, half on each level, is not "most"
    config = level_fixtures.write_two_box_set(
        tmp_path, cv2, np, ranges='((-1, 19), (19, INF))')
    reports, text = run_check(Config.fromfile(config), ['train'],
                              workers=1, progress=False,
                              model_checks=[check_level_balance])
    assert 'most positive locations' not in text
    assert reports[0].count('warning') == 0
    assert check_level_balance(Config.fromfile(config), reports) is None


def test_skipped_without_fcos_assigner_or_with_errors(tmp_path):
    config = Config.fromfile(
        level_fixtures.write_two_box_set(tmp_path, cv2, np))
    reports, _ = run_check(config, ['train'], workers=1, progress=False)
    no_fcos = copy.deepcopy(config)
    no_fcos.model.train_cfg.assigner.type = 'OtherAssigner'
    assert check_level_balance(no_fcos, reports) is None
    reports[0].add('error', 'missing image files', 'a.jpg')
    assert check_level_balance(config, reports) is None


def test_tool_prints_the_warning(tmp_path):
    config = level_fixtures.write_two_box_set(tmp_path, cv2, np)
    proc = subprocess.run(
        [sys.executable, 'tools/misc/check_dataset.py', config,
         '--no-progress'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert WARNING in proc.stdout
