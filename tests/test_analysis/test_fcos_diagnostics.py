"""FCOS diagnostics on hand-built boxes (worked out in the comments).

Input 64 x 64 (padded to 32: unchanged), strides 8 and 16, ranges
(-1, 16) and (16, 24), no centre sampling. Points: level 0 at 4, 12, ...,
60; level 1 at 8, 24, 40, 56 (both axes).

* A cat [0, 0, 20, 20]: level-0 points (4|12, 4|12), max(l, t, r, b) <= 16
  -> 4 points at P3; level 1's (8, 8) has max 12 < 16.
* G cat, the same box again: every point goes to A (equal area, lower
  index): 'taken'.
* B dog [32, 32, 64, 64]: level-0 points have max >= 20 > 16; level 1's
  (40|56, 40|56) have max 24 <= 24 -> 4 points at P4.
* C cat [1, 1, 3, 3]: no point inside at any level: 'region'.
* E dog [0, 32, 64, 64]: points inside, but max(l, r) >= 32 everywhere,
  above both ranges: 'range'.
"""
import numpy as np
import pytest

from fcos_mm.analysis.fcos_diagnostics import (
    assign_levels,
    fcos_diagnostics,
    size_names,
)
from fcos_mm.evaluation import functional as da
from fcos_mm.models.task_modules.assigners import FCOSPointAssigner

BOXES = [[0, 0, 20, 20], [0, 0, 20, 20], [32, 32, 64, 64], [1, 1, 3, 3],
         [0, 32, 64, 64]]
LABELS = [0, 0, 1, 0, 1]
RANGES = ((-1, 16), (16, 24))


def data_with(det_boxes, det_labels, scale=1.0):
    boxes = np.array(BOXES, float) / scale
    return da.EvalData(
        classes=['cat', 'dog'], img_ids=np.array([7]), img_paths=[''],
        img_sizes=np.array([[64 / scale, 64 / scale]]),
        gt_image=np.zeros(5, int), gt_boxes=boxes,
        gt_labels=np.array(LABELS), gt_ignore=np.zeros(5, bool),
        gt_areas=(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
        det_image=np.zeros(len(det_boxes), int),
        det_boxes=np.array(det_boxes, float).reshape(-1, 4) / scale,
        det_scores=np.linspace(0.9, 0.5, len(det_boxes)),
        det_labels=np.array(det_labels, int))


@pytest.mark.parametrize('scale', [1.0, 2.0])
def test_levels_and_reasons(scale):
    # scale 2: the original image is half the input; scale_factor 2 maps
    # it back onto the same 64 x 64 input
    data = data_with([[32, 32, 64, 64]], [1], scale)
    assigner = FCOSPointAssigner(regress_ranges=RANGES)
    result = assign_levels(data, np.array([[64, 64]]),
                           np.array([[scale, scale]]), assigner, [8, 16])
    assert result['level'].tolist() == [0, -1, 1, -1, -1]
    np.testing.assert_array_equal(result['positives'],
                                  [[4, 0], [0, 0], [0, 4], [0, 0], [0, 0]])
    assert result['reason'].tolist() == ['', 'taken', '', 'region', 'range']

    matching = da.match_detections(data)
    diag = fcos_diagnostics(data, matching, result, [8, 16], RANGES)
    rows = {row['level']: row for row in diag['levels']}
    # B is found (the one detection), A is not; three boxes on no level
    assert (rows['P3']['boxes'], rows['P3']['recalled']) == (1, 0)
    assert (rows['P4']['boxes'], rows['P4']['recall']) == (1, 1.0)
    assert rows['none']['boxes'] == 3 and rows['P3']['stride'] == 8
    lost = diag['unlearnable']
    assert lost['total'] == 3
    assert lost['per_reason'] == dict(taken=1, range=1, region=1)
    # sizes (original pixels): G 400 / scale^2, C tiny, E 2048 / scale^2
    by_size = {row['name']: row for row in lost['per_size']}
    if scale == 1.0:
        assert (by_size['small']['total'], by_size['medium']['total']) == (
            2, 1)
        assert by_size['medium']['range'] == 1
    by_class = {row['name']: row for row in lost['per_class']}
    assert by_class['cat']['total'] == 2 and by_class['cat']['taken'] == 1
    assert by_class['dog']['range'] == 1 and by_class['dog']['boxes'] == 2
    # examples, largest first: E, G, C
    assert diag['examples'] == [4, 1, 3]


def test_size_names():
    assert size_names(np.array([0, 1023, 1024, 9215, 9216])).tolist() == [
        'small', 'small', 'medium', 'medium', 'large']


def test_ignored_boxes_not_assigned():
    data = data_with([], [])
    data.gt_ignore[2] = True  # B is a crowd box
    result = assign_levels(data, np.array([[64, 64]]), np.ones((1, 2)),
                           FCOSPointAssigner(regress_ranges=RANGES), [8, 16])
    assert result['level'][2] == -1 and result['reason'][2] == ''


def test_assigner_is_the_one_the_built_head_trains_with():
    from mmengine.config import Config

    from fcos_mm.analysis.fcos_diagnostics import assigner_from_config
    from fcos_mm.models.task_modules.assigners.fcos_point_assigner import (
        FCOS_REGRESS_RANGES,
    )

    # nothing said: FCOSHead's own strides (4..64), the paper's ranges
    assigner, strides, pad = assigner_from_config(Config(dict(model=dict(
        type='FCOS', bbox_head=dict(type='FCOSHead', num_classes=2,
                                    in_channels=4)))))
    assert (strides, pad) == ([4, 8, 16, 32, 64], 32)
    assert assigner.regress_ranges == list(FCOS_REGRESS_RANGES)
    assert not assigner.center_sampling
    # the head's (deprecated) assigner kwargs count, as in training
    cfg = Config(dict(model=dict(
        bbox_head=dict(strides=[8, 16], center_sampling=True,
                       center_sample_radius=0.5),
        train_cfg=dict(assigner=dict(type='FCOSPointAssigner',
                                     regress_ranges=RANGES)),
        data_preprocessor=dict(pad_size_divisor=64))))
    with pytest.warns(DeprecationWarning, match='train_cfg.assigner'):
        assigner, strides, pad = assigner_from_config(cfg)
    assert (strides, pad) == ([8, 16], 64)
    assert assigner.regress_ranges == list(RANGES)
    assert (assigner.center_sampling, assigner.center_sample_radius) == (
        True, 0.5)
    with pytest.raises(ValueError, match='model.bbox_head'):
        assigner_from_config(Config(dict(model=dict(type='FCOS'))))


def test_assigner_of_the_demo_config_equals_the_built_detectors():
    import os.path as osp

    from mmengine.config import Config

    from fcos_mm.analysis.fcos_diagnostics import assigner_from_config
    from fcos_mm.registry import MODELS, fcos_mm_scope

    config = osp.join(
        osp.dirname(__file__), '..', '..', 'configs', 'demo',
        'fcos_r18-w16_fpn-64_gn-head-center-normbbox-centeronreg-giou_'
        '1xb8-1000i_synthetic.py')
    cfg = Config.fromfile(config)
    assigner, strides, pad = assigner_from_config(cfg)
    with fcos_mm_scope():
        model = MODELS.build(cfg.model)
    assert repr(assigner) == repr(model.bbox_head.assigner)
    assert strides == list(model.bbox_head.strides)
    assert pad == model.data_preprocessor.pad_size_divisor
