"""Tables 1 and 2 statistics on hand-made annotations, worked out by hand.

Grids (MlvlPointGenerator, offset 0.5; ``featmap_sizes`` pads to 32):

* 64x64 input: P3 (stride 8) 8x8 locations at 4, 12, ..., 60; P4 (16) 4x4
  at 8, 24, 40, 56; P5 2x2 at 16, 48; P6 and P7 one location each.
* 128x128 input: P3 16x16 at 4 + 8k; P4 8x8 at 8 + 16k; P5 4x4 at
  16, 48, 80, 112; P6 2x2 at 32, 96; P7 1x1 at 64.

A location is inside a box when all four distances are > 0 (strict).
"""
import math

import pytest
import torch

from fcos_mm.analysis import (
    AssignmentSetting,
    AssignmentStatistics,
    candidate_mask,
    compute_statistics,
    featmap_sizes,
    format_tables,
    grid_points,
    image_statistics,
    paper_settings,
)

NO_FPN, NO_FPN_CS, FPN, FPN_CS = (s.name for s in paper_settings())

# Case 1, a 64x64 image with four boxes:
#   A (0, 0, 30, 30)   class 0, area 900
#   B (16, 16, 48, 48) class 1, area 1024
#   C (50, 50, 54, 54) class 0, area 16
#   D (0, 0, 20, 20)   class 0, area 400
CASE1_BOXES = torch.tensor([[0., 0., 30., 30.], [16., 16., 48., 48.],
                            [50., 50., 54., 54.], [0., 0., 20., 20.]])
CASE1_LABELS = torch.tensor([0, 1, 0, 0])

# Case 2, a 128x128 image: a large box L (0, 0, 128, 128), class 0, and a
# small box S (36, 36, 60, 60), class 1, inside it.
CASE2_BOXES = torch.tensor([[0., 0., 128., 128.], [36., 36., 60., 60.]])
CASE2_LABELS = torch.tensor([0, 1])


def _stats(setting_name, shape, boxes, labels, num_classes=2):
    setting = {s.name: s for s in paper_settings()}[setting_name]
    return image_statistics(setting, shape, boxes, labels, num_classes)


def test_grid_matches_hand_layout():
    sizes = featmap_sizes((64, 64), (8, 16, 32, 64, 128))
    assert sizes == [(8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]
    # Padding to 32: a 50x70 image is a 64x96 input.
    assert featmap_sizes((50, 70), (8, 16)) == [(8, 12), (4, 6)]
    points = grid_points([(4, 4)], (16, ))[0]
    assert points[:4, 0].tolist() == [8., 24., 40., 56.]
    assert points[::4, 1].tolist() == [8., 24., 40., 56.]


def test_case1_single_level():
    # P4 only, no range limit. Locations inside each box:
    #   A: x, y in {8, 24}            -> 4
    #   B: x, y in {24, 40}           -> 4
    #   C: 50 < x < 54 holds no 8 + 16k -> 0
    #   D: x, y in {8}                -> 1, (8, 8)
    # Union 4 + 4 - 1 (24, 24) = 7 positives. Ambiguous: (8, 8) in A and D
    # (same class), (24, 24) in A and B (classes 0 and 1): 2 / 7, 1 / 7.
    # Ties: (8, 8) -> D (400 < 900), (24, 24) -> A (900 < 1024); A keeps
    # 3, B 3, D 1, C none: BPR 3 / 4.
    s = _stats(NO_FPN, (64, 64), CASE1_BOXES, CASE1_LABELS)
    assert (s.num_gts, s.num_recalled) == (4, 3)
    assert s.bpr == pytest.approx(0.75)
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (7, 2,
                                                                         1)
    assert s.ambiguous_ratio == pytest.approx(2 / 7)
    assert s.ambiguous_diff_ratio == pytest.approx(1 / 7)
    assert s.positives_per_level == [7]


def test_case1_fpn():
    # P3-P7 with ranges (-1, 64), (64, 128), ...: no box is 64 wide, so
    # every max distance is < 64 and only P3 takes positives.
    #   A: x, y in {4, 12, 20, 28} -> 16    B: {20, 28, 36, 44} -> 16
    #   C: {52} -> 1                        D: {4, 12} -> 4
    # A & B share {20, 28}^2 = 4, A & D share {4, 12}^2 = 4 (D inside A):
    # union 16 + 16 + 1 + 4 - 4 - 4 = 29; ambiguous 8, of which the 4 of
    # A & B have two classes. A keeps 16 - 4 (to D), B 16 - 4 (to A): all
    # four boxes have locations, BPR 1.
    s = _stats(FPN, (64, 64), CASE1_BOXES, CASE1_LABELS)
    assert (s.num_gts, s.num_recalled) == (4, 4)
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (29,
                                                                         8, 4)
    assert s.positives_per_level == [29, 0, 0, 0, 0]


def test_case2_fpn_removes_ambiguity():
    # Without FPN (P4 only): L holds all 8x8 = 64 locations, S holds
    # x, y in {40, 56} (36 < x < 60) = 4, all inside L with another class:
    # 4 / 64 ambiguous, all different-class. S wins them (smaller): BPR 1.
    s = _stats(NO_FPN, (128, 128), CASE2_BOXES, CASE2_LABELS)
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (64,
                                                                         4, 4)
    assert s.num_recalled == 2
    # With FPN: S's P3 locations x, y in {44, 52} (4) have max distance
    # <= 16, in P3's range; its P4 ones (max 20) are out of [64, 128].
    # L: on P3 a location needs max(x, 128 - x, y, 128 - y) <= 64, i.e.
    # x = y = 64, not on the grid; on P4 every location has max in
    # [64, 120]: 64; on P5 max <= 112 < 128, P6 max 96, P7 max 64: none.
    # So 4 + 64 positives, no location shared: no ambiguity.
    s = _stats(FPN, (128, 128), CASE2_BOXES, CASE2_LABELS)
    assert s.positives_per_level == [4, 64, 0, 0, 0]
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (68,
                                                                         0, 0)
    assert s.num_recalled == 2


def test_case2_center_sampling():
    # Centre region: centre +- 1.5 * stride, clipped to the box.
    # P4 only: S (centre 48) -> (24, 72) clipped to (36, 60): {40, 56}, 4
    # locations; L (centre 64) -> (40, 88): {56, 72} (40 excluded), 4.
    # Shared: (56, 56). 7 positives, 1 ambiguous (different classes);
    # S wins it, L keeps 3: BPR 1.
    s = _stats(NO_FPN_CS, (128, 128), CASE2_BOXES, CASE2_LABELS)
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (7, 1,
                                                                        1)
    assert s.num_recalled == 2
    # FPN: S on P3, region 48 +- 12 = (36, 60): {44, 52}, 4, in range.
    # L on P3: 64 +- 12 -> {60, 68}, max distance 68 > 64: out. On P4:
    # 64 +- 24 -> {56, 72}, max distance 72 in [64, 128]: 4. On P5:
    # 64 +- 48 -> {48, 80}, max 80 < 128: out. 8 positives, disjoint.
    s = _stats(FPN_CS, (128, 128), CASE2_BOXES, CASE2_LABELS)
    assert s.positives_per_level == [4, 4, 0, 0, 0]
    assert (s.num_positives, s.num_ambiguous, s.num_recalled) == (8, 0, 2)


def test_candidate_mask_counts_boxes_per_location():
    # Case 1 on P4: location (8, 8) (index 0) is in A and D, (24, 24)
    # (index 5) in A and B, (40, 40) (index 10) in B only.
    setting = paper_settings()[0]
    points = grid_points([(4, 4)], (16, ))
    mask = candidate_mask(setting.build_assigner(), points, (16, ),
                          CASE1_BOXES, CASE1_LABELS, 2)
    assert mask.shape == (16, 4)
    assert mask[0].tolist() == [True, False, False, True]
    assert mask[5].tolist() == [True, True, False, False]
    assert mask[10].tolist() == [False, True, False, False]
    assert mask.sum().item() == 4 + 4 + 0 + 1


def test_compute_statistics_sums_images_and_prints_tables():
    samples = [((64, 64), CASE1_BOXES, CASE1_LABELS),
               ((128, 128), CASE2_BOXES, CASE2_LABELS),
               ((64, 64), torch.zeros((0, 4)), torch.zeros((0, ),
                                                           dtype=torch.long))]
    results = compute_statistics(samples, num_classes=2)
    assert list(results) == [NO_FPN, NO_FPN_CS, FPN, FPN_CS]
    # Case 1 + case 2 without FPN: 3 + 2 of 4 + 2 boxes, 7 + 64
    # positives, 2 + 4 ambiguous, 1 + 4 of them different-class.
    s = results[NO_FPN]
    assert (s.num_gts, s.num_recalled) == (6, 5)
    assert (s.num_positives, s.num_ambiguous, s.num_ambiguous_diff) == (71,
                                                                         6, 5)
    s = results[FPN]
    assert (s.num_gts, s.num_recalled, s.num_positives) == (6, 6, 29 + 68)
    assert s.positives_per_level == [33, 64, 0, 0, 0]
    text = format_tables(results)
    assert 'Table 1' in text and 'Table 2' in text
    assert f'{100 * 5 / 6:.2f}' in text  # BPR without FPN
    assert f'{100 * 6 / 71:.2f}' in text  # ambiguity without FPN
    assert 'P3: 33, P4: 64, P5: 0, P6: 0, P7: 0' in text


def test_statistics_guard_their_inputs():
    stats = AssignmentStatistics(strides=(16, ))
    assert math.isnan(stats.bpr) and math.isnan(stats.ambiguous_ratio)
    with pytest.raises(ValueError, match='strides'):
        stats.add(AssignmentStatistics(strides=(8, 16)))
    setting = AssignmentSetting('P4', (16, ), ((-1, 1e8), ))
    with pytest.raises(ValueError, match='2 boxes but 1 labels'):
        image_statistics(setting, (64, 64), CASE2_BOXES, torch.tensor([0]),
                         2)


def test_samples_from_dataset_read_boxes_as_training_sees_them(tmp_path):
    # Two 100x50 (w x h) images resized to fit (200, 100): boxes double.
    # RandomFlip (prob 1) is dropped, so no box is mirrored.
    import json

    import mmcv
    import numpy as np

    from fcos_mm.analysis import samples_from_dataset
    images, annotations = [], []
    for i in range(2):
        mmcv.imwrite(np.zeros((50, 100, 3), np.uint8),
                     str(tmp_path / f'{i}.png'))
        images.append(dict(id=i, file_name=f'{i}.png', width=100, height=50))
        annotations.append(
            dict(id=i, image_id=i, category_id=2 - i, iscrowd=0,
                 bbox=[10, 5, 20 + i, 10], area=(20 + i) * 10))
    (tmp_path / 'ann.json').write_text(
        json.dumps(
            dict(images=images, annotations=annotations,
                 categories=[dict(id=1, name='a'), dict(id=2, name='b')])))
    dataset_cfg = dict(
        type='CocoDataset',
        data_root=str(tmp_path),
        ann_file='ann.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=('a', 'b')),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(200, 100), keep_ratio=True),
            dict(type='RandomFlip', prob=1.0),
            dict(type='PackDetInputs')
        ])
    samples, num_classes = samples_from_dataset(dataset_cfg)
    samples = list(samples)
    assert num_classes == 2 and len(samples) == 2
    shape, bboxes, labels = samples[0]
    assert shape == (100, 200)
    assert bboxes.tolist() == [[20.0, 10.0, 60.0, 30.0]]
    assert labels.tolist() == [1]
    assert samples[1][1].tolist() == [[20.0, 10.0, 62.0, 30.0]]
    assert samples[1][2].tolist() == [0]
