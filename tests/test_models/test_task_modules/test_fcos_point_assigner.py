"""FCOSPointAssigner: hand-worked cases and equality with mmdet's FCOSHead.

Points come from mmdet's ``MlvlPointGenerator(strides, offset=0.5)``, so on
a level of stride ``s`` the points are at ``(j + 0.5) * s, (i + 0.5) * s``:
4, 12, 20, ... on stride 8 and 8, 24, 40, ... on stride 16.
"""
from typing import List, Sequence, Tuple

import pytest
import torch
from mmdet.models.dense_heads import FCOSHead
from mmdet.models.task_modules import MlvlPointGenerator
from mmengine.structures import InstanceData
from torch import Tensor

from fcos_mm.models.task_modules import FCOSAssignResult, FCOSPointAssigner
from fcos_mm.registry import TASK_UTILS

INF = 1e8
NUM_CLASSES = 3


def grid_sizes(strides: Sequence[int], height: int,
               width: int) -> List[Tuple[int, int]]:
    """Per-level ``(H_l, W_l)`` of an image of ``height x width`` pixels."""
    return [((height + s - 1) // s, (width + s - 1) // s) for s in strides]


def grid_points(strides: Sequence[int], height: int,
                width: int) -> List[Tensor]:
    """Per-level points of an image of ``height x width`` pixels."""
    return MlvlPointGenerator(strides, offset=0.5).grid_priors(
        grid_sizes(strides, height, width), dtype=torch.float32,
        device='cpu')


def point_index(points: List[Tensor], level: int, x: float, y: float) -> int:
    """Index in the level-major concatenation of the point ``(x, y)``."""
    hits = ((points[level][:, 0] == x) & (points[level][:, 1] == y))
    (local, ) = hits.nonzero(as_tuple=True)
    assert local.numel() == 1, (level, x, y)
    return sum(p.size(0) for p in points[:level]) + int(local)


def assign_one_level(boxes, labels=None, size=(32, 32), **kwargs):
    """Assign on a single stride-8 level with range (-1, 64)."""
    points = grid_points((8, ), *size)
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    if labels is None:
        labels = torch.arange(boxes.size(0)) % NUM_CLASSES
    assigner = FCOSPointAssigner(regress_ranges=((-1, 64), ), **kwargs)
    return points, assigner.assign(points, (8, ), boxes,
                                   torch.as_tensor(labels), NUM_CLASSES,
                                   grid_sizes((8, ), *size))


# ---------------------------------------------------------------- by hand
def test_smaller_box_wins_an_ambiguous_point():
    # box 0 covers all 4x4 points (4..28), box 1 only x, y in {4, 12}
    points, res = assign_one_level([[0, 0, 32, 32], [0, 0, 16, 16]],
                                   labels=[2, 1])
    small = torch.tensor([[1, 1, 0, 0]] * 2 + [[0, 0, 0, 0]] * 2).flatten()
    assert torch.equal(res.gt_inds, small)
    assert torch.equal(res.labels, torch.where(small == 1, 1, 2))
    # point (4, 4) regresses box 1, point (20, 20) box 0, in pixels
    assert res.bbox_targets[point_index(points, 0, 4, 4)].tolist() == [
        4, 4, 12, 12
    ]
    assert res.bbox_targets[point_index(points, 0, 20, 20)].tolist() == [
        20, 20, 12, 12
    ]
    assert isinstance(res, FCOSAssignResult)
    assert res.labels.dtype == res.gt_inds.dtype == torch.long
    assert res.bbox_targets.shape == (16, 4)


@pytest.mark.parametrize('order', [(0, 1), (1, 0)])
def test_equal_areas_go_to_the_lowest_box_index(order):
    # a 16x32 and a 32x16 box, both of area 512, overlap on x, y in {4, 12}
    tall, wide = [0, 0, 16, 32], [0, 0, 32, 16]
    boxes = [[tall, wide][i] for i in order]
    points, res = assign_one_level(boxes, labels=[1, 2])
    shared = point_index(points, 0, 12, 4)
    assert int(res.gt_inds[shared]) == 0
    assert int(res.labels[shared]) == 1
    assert res.bbox_targets[shared].tolist() == [12, 4] + (
        [4, 28] if order == (0, 1) else [20, 12])
    # a point only in the second box still goes to it
    only_second = point_index(points, 0, *((4, 28) if order == (1, 0) else
                                           (28, 4)))
    assert int(res.gt_inds[only_second]) == 1


def test_duplicate_boxes_take_the_first_label():
    _, res = assign_one_level([[0, 0, 16, 16]] * 3, labels=[2, 0, 1])
    fg = res.gt_inds >= 0
    assert int(fg.sum()) == 4
    assert (res.gt_inds[fg] == 0).all() and (res.labels[fg] == 2).all()


def test_point_on_a_box_edge_is_negative():
    # x, y = 4 and 20 lie on the edges of [4, 20]: only (12, 12) is inside
    points, res = assign_one_level([[4, 4, 20, 20]])
    inside = point_index(points, 0, 12, 12)
    assert (res.gt_inds >= 0).nonzero().flatten().tolist() == [inside]
    assert res.bbox_targets[inside].tolist() == [8, 8, 8, 8]
    # and the background keeps zeros as its (unused) targets
    bg = torch.ones(16, dtype=torch.bool)
    bg[inside] = False
    assert (res.bbox_targets[bg] == 0).all()
    assert (res.labels[bg] == NUM_CLASSES).all()


def two_levels(box: List[float]) -> Tuple[List[Tensor], FCOSAssignResult]:
    """Assign one box on P3 (-1, 64] and P4 [64, 128] of a 32x64 image."""
    points = grid_points((8, 16), 32, 64)
    assigner = FCOSPointAssigner(regress_ranges=((-1, 64), (64, 128)))
    boxes = torch.tensor([box], dtype=torch.float32)
    return points, assigner.assign(points, (8, 16), boxes,
                                   torch.tensor([1]), NUM_CLASSES,
                                   grid_sizes((8, 16), 32, 64))


def test_regress_range_is_inclusive_at_both_ends():
    # (4, 4) on P3 has l = 60, (12, 4) has l = 68 > 64;
    # (8, 8) on P4 has l = 64 exactly: both ends include 64
    points, res = two_levels([-56, 0, 16, 16])
    assert int(res.gt_inds[point_index(points, 0, 4, 4)]) == 0
    assert int(res.gt_inds[point_index(points, 0, 12, 4)]) == -1
    assert int(res.gt_inds[point_index(points, 1, 8, 8)]) == 0
    assert res.bbox_targets[point_index(points, 1, 8, 8)].tolist() == [
        64, 8, 8, 8
    ]
    # r = 64 exactly for (4, 4) on P3
    points, res = two_levels([0, 0, 68, 8])
    assert int(res.gt_inds[point_index(points, 0, 4, 4)]) == 0
    assert res.bbox_targets[point_index(points, 0, 4, 4)].tolist() == [
        4, 4, 64, 4
    ]


def test_regress_range_excludes_just_outside():
    # l = 64.5 at (4, 4): too far for P3; on P4 (8, 8) has l = 68.5, in range
    points, res = two_levels([-60.5, 0, 16, 16])
    assert int(res.gt_inds[point_index(points, 0, 4, 4)]) == -1
    assert int(res.gt_inds[point_index(points, 1, 8, 8)]) == 0
    # a 40x16 box: max(l, t, r, b) < 64 on P4 everywhere, so no P4 point
    points, res = two_levels([0, 0, 40, 16])
    num_p3 = points[0].size(0)
    assert (res.gt_inds[num_p3:] == -1).all()
    assert int((res.gt_inds[:num_p3] == 0).sum()) == 5 * 2


def test_range_end_is_tested_in_float32_as_mmdet_does():
    # x1 = -44.0000038 (float32): at x = 20, l = 20 - x1 rounds to exactly
    # 64.0, so the point is positive on a (-1, 64) level, although
    # x1 + 64 = 19.9999962 < 20 would say otherwise.
    x1 = -44.000003814697266
    points, res = assign_one_level([[x1, 0, 24, 8]])
    at = point_index(points, 0, 20, 4)
    assert int(res.gt_inds[at]) == 0
    assert res.bbox_targets[at].tolist() == [64, 4, 4, 4]
    assert int((res.gt_inds == 0).sum()) == 3  # x = 4, 12, 20


def test_box_beside_the_grid_leaves_all_background():
    points, res = assign_one_level([[100, 100, 140, 130], [-30, 0, -2, 9]])
    assert res.gt_inds.tolist() == [-1] * 16
    assert res.labels.tolist() == [NUM_CLASSES] * 16


def test_center_region_is_clipped_to_a_thin_box():
    # box (0, 0, 48, 6): centre (24, 3), region 24 +- 12 in x, clipped to
    # the box in y: (12, 0, 36, 6); 12 and 36 lie on its edge, so only
    # (20, 4) and (28, 4) are positive. Unclipped, (20, 12) and (28, 12)
    # would be too (max(l, t, r, b) <= 64 there).
    points, res = assign_one_level([[0, 0, 48, 6]],
                                   size=(32, 64),
                                   center_sampling=True,
                                   center_sample_radius=1.5)
    fg = (res.gt_inds >= 0).nonzero().flatten().tolist()
    assert fg == [point_index(points, 0, 20, 4), point_index(points, 0, 28, 4)]
    # targets still measure the box, not the centre region
    assert res.bbox_targets[fg[0]].tolist() == [20, 4, 28, 2]
    # without centre sampling every point of the row inside the box counts
    _, res = assign_one_level([[0, 0, 48, 6]], size=(32, 64))
    assert int((res.gt_inds >= 0).sum()) == 6


def test_center_region_of_a_box_smaller_than_the_radius():
    # a 8x8 box: the +-12 centre region is clipped to the whole box
    points, res = assign_one_level([[2, 2, 10, 10]],
                                   center_sampling=True,
                                   center_sample_radius=1.5)
    assert (res.gt_inds >= 0).nonzero().flatten().tolist() == [
        point_index(points, 0, 4, 4)
    ]


def test_empty_ground_truth_is_all_background():
    points = grid_points((8, 16), 32, 48)
    res = FCOSPointAssigner(((-1, 64), (64, 128))).assign(
        points, (8, 16), torch.zeros((0, 4)), torch.zeros((0, ),
                                                          dtype=torch.long),
        NUM_CLASSES)
    num_points = 4 * 6 + 2 * 3
    assert res.labels.tolist() == [NUM_CLASSES] * num_points
    assert res.gt_inds.tolist() == [-1] * num_points
    assert res.bbox_targets.shape == (num_points, 4)
    assert (res.bbox_targets == 0).all()


def test_shuffled_points_without_grid_sizes_give_the_same_result():
    points = grid_points((8, 16), 48, 64)
    boxes = torch.tensor([[3., 5., 40., 30.], [10., 0., 60., 47.5],
                          [0., 0., 17., 9.]])
    labels = torch.tensor([0, 1, 2])
    assigner = FCOSPointAssigner(((-1, 32), (32, 128)), max_pairs=5)
    want = assigner.assign(points, (8, 16), boxes, labels, NUM_CLASSES)
    perm = [torch.randperm(p.size(0)) for p in points]
    shuffled = [p[i] for p, i in zip(points, perm)]
    got = assigner.assign(shuffled, (8, 16), boxes, labels, NUM_CLASSES)
    offsets = [0, points[0].size(0)]
    full = torch.cat([i + o for i, o in zip(perm, offsets)])
    assert torch.equal(got.gt_inds, want.gt_inds[full])
    assert torch.equal(got.labels, want.labels[full])
    assert torch.equal(got.bbox_targets, want.bbox_targets[full])
    assert int((want.gt_inds >= 0).sum()) > 10


def test_windows_hold_every_candidate():
    # each (box, level) window, placed on the grid from the config and the
    # feature-map size alone, holds every cell strictly inside the region
    # and within `high` of all four sides
    torch.manual_seed(0)
    strides = (8, 16)
    points = grid_points(strides, 64, 96)
    sizes = grid_sizes(strides, 64, 96)
    all_points = torch.cat(points)
    boxes = torch.cat([torch.rand(40, 2) * 90 - 10,
                       torch.rand(40, 2) * 120], 1)
    boxes[:, 2:] += boxes[:, :2]
    boxes[:20] = boxes[:20].round()  # cells on box edges
    num_windowed = 0
    for center_sampling in (False, True):
        assigner = FCOSPointAssigner(((-1, 24), (24, 1e8)),
                                     center_sampling=center_sampling)
        levels = assigner._levels(points, strides, sizes)
        tables = assigner._tables(levels, all_points, boxes.dtype)
        regions = assigner._regions(boxes, tables.radius)  # (G, L, 4)
        cols, rows = assigner._windows(tables,
                                       all_points[tables.first_point], boxes,
                                       regions)  # (G, L, Wc), (G, L, Wr)
        for lvl, level in enumerate(levels):
            # (G, m) point of each cell of the level's own window
            row_points = level.start + rows[:, lvl, :level.win_rows] * \
                level.cols
            window = (row_points[:, :, None] +
                      cols[:, lvl, None, :level.win_cols]).flatten(1)
            high = assigner.regress_ranges[lvl][1]
            reg = regions[:, lvl]
            pts = points[lvl]
            xs, ys = pts[:, None, 0], pts[:, None, 1]
            keep = ((xs - reg[:, 0] > 0) & (ys - reg[:, 1] > 0) &
                    (reg[:, 2] - xs > 0) & (reg[:, 3] - ys > 0) &
                    (xs - boxes[:, 0] <= high) & (ys - boxes[:, 1] <= high) &
                    (boxes[:, 2] - xs <= high) & (boxes[:, 3] - ys <= high))
            for g in range(boxes.size(0)):
                wanted = set((keep[:, g].nonzero().flatten() +
                              level.start).tolist())
                got = window[g].tolist()
                assert wanted <= set(got), (center_sampling, lvl, g)
                assert len(set(got)) == len(got)  # no cell twice
            num_windowed += window.size(1) < pts.size(0)
    assert num_windowed >= 2  # P3 (and P4 with centre sampling) windowed


def test_window_sizes_follow_from_ranges_and_strides():
    # the paper's ranges at 800x1344: (bound / s + 3) cells a side, where
    # bound = high (64 / 8 = 8 -> 11) or, with centre sampling,
    # min(high, 2 * 1.5 * s) (3 -> 6); P7's unbounded range takes the map
    strides = (8, 16, 32, 64, 128)
    sizes = grid_sizes(strides, 800, 1344)
    points = grid_points(strides, 800, 1344)
    wins = [(lv.win_rows, lv.win_cols) for lv in FCOSPointAssigner()._levels(
        points, strides, sizes)]
    assert wins == [(11, 11)] * 4 + [(7, 11)]
    wins = [(lv.win_rows, lv.win_cols) for lv in FCOSPointAssigner(
        center_sampling=True)._levels(points, strides, sizes)]
    assert wins == [(6, 6)] * 5
    # a portrait map: the unbounded level keeps all its rows
    tall = grid_sizes(strides, 1344, 800)
    wins = [(lv.win_rows, lv.win_cols) for lv in FCOSPointAssigner()._levels(
        grid_points(strides, 1344, 800), strides, tall)]
    assert wins == [(11, 11)] * 4 + [(11, 7)]
    # no grid size: every point of the level
    assert [lv.win_rows * lv.win_cols for lv in FCOSPointAssigner()._levels(
        points, strides, None)] == [p.size(0) for p in points]


def test_boxes_of_area_above_the_sentinel_follow_mmdet():
    # mmdet marks "no candidate" with an area of 1e8; a larger box wins a
    # point only when every box is a candidate there
    points = grid_points((8, ), 16, 16)
    assigner = FCOSPointAssigner(((-1, 1e9), ))
    huge = [0., 0., 20000., 20000.]
    alone = assigner.assign(points, (8, ), torch.tensor([huge]),
                            torch.tensor([1]), NUM_CLASSES)
    assert alone.gt_inds.tolist() == [0] * 4
    # a second box that misses every point: the huge one loses them all
    beside = assigner.assign(points, (8, ),
                             torch.tensor([huge, [0., 0., 1., 1.]]),
                             torch.tensor([1, 2]), NUM_CLASSES)
    assert beside.gt_inds.tolist() == [-1] * 4
    # an area of exactly 1e8 is the sentinel itself: background
    exact = assigner.assign(points, (8, ),
                            torch.tensor([[0., 0., 10000., 10000.]]),
                            torch.tensor([1]), NUM_CLASSES)
    assert exact.gt_inds.tolist() == [-1] * 4


def test_chunking_does_not_change_the_result():
    torch.manual_seed(1)
    strides = (8, 16, 32)
    points = grid_points(strides, 48, 64)
    xy = torch.rand(12, 2) * 50
    boxes = torch.cat([xy, xy + torch.rand(12, 2) * 80 + 1], 1)
    labels = torch.randint(0, NUM_CLASSES, (12, ))
    ranges = ((-1, 16), (16, 32), (32, 1e8))
    sizes = grid_sizes(strides, 48, 64)
    want = FCOSPointAssigner(ranges).assign(points, strides, boxes, labels,
                                            NUM_CLASSES, sizes)
    for max_pairs in (1, 3, 64, 1000):
        for featmap_sizes in (sizes, None):
            got = FCOSPointAssigner(ranges, max_pairs=max_pairs).assign(
                points, strides, boxes, labels, NUM_CLASSES, featmap_sizes)
            assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_a_batch_equals_its_images_one_at_a_time():
    gen = torch.Generator().manual_seed(7)
    strides = (8, 16, 32)
    points = grid_points(strides, 48, 64)
    sizes = grid_sizes(strides, 48, 64)
    boxes = [random_boxes(gen, n, 48, 64) for n in (5, 0, 17, 1)]
    labels = [torch.randint(0, NUM_CLASSES, (b.size(0), ), generator=gen)
              for b in boxes]
    assigner = FCOSPointAssigner(((-1, 16), (16, 32), (32, 1e8)),
                                 center_sampling=True, max_pairs=50)
    batch = assigner.assign_batch(points, strides, boxes, labels, NUM_CLASSES,
                                  sizes)
    assert batch.labels.shape == (4, sum(p.size(0) for p in points))
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        one = assigner.assign(points, strides, b, lab, NUM_CLASSES, sizes)
        assert torch.equal(batch.labels[i], one.labels)
        assert torch.equal(batch.bbox_targets[i], one.bbox_targets)
        # gt_inds index the image's own boxes
        assert torch.equal(batch.gt_inds[i], one.gt_inds)
    assert (batch.gt_inds[2] >= 0).any() and (batch.gt_inds[1] == -1).all()
    empty = assigner.assign_batch(points, strides, [], [], NUM_CLASSES,
                                  sizes)
    assert empty.labels.shape == (0, batch.labels.size(1))


def test_bad_box_names_its_image_in_a_batch():
    points = grid_points((8, ), 16, 16)
    good = torch.tensor([[0, 0, 5, 5.]])
    with pytest.raises(ValueError,
                       match=r'image 1 of the batch: gt_bboxes\[0\]'):
        FCOSPointAssigner(((-1, 64), )).assign_batch(
            points, (8, ), [good, torch.tensor([[9, 0, 4, 5.]])],
            [torch.tensor([0]), torch.tensor([1])], NUM_CLASSES)
    with pytest.raises(ValueError, match=r'not a \(1, 2\) grid'):
        FCOSPointAssigner(((-1, 64), )).assign(points, (8, ), good,
                                               torch.tensor([0]), NUM_CLASSES,
                                               [(1, 2)])


# ---------------------------------------------------------------- config
def test_built_from_config_through_our_registry():
    cfg = dict(type='FCOSPointAssigner',
               regress_ranges=((-1, 64), (64, 1e8)),
               center_sampling=True,
               center_sample_radius=2.5,
               max_pairs=100)
    assigner = TASK_UTILS.build(cfg)
    assert type(assigner) is FCOSPointAssigner
    assert assigner.regress_ranges == [(-1, 64), (64, 1e8)]
    assert assigner.center_sampling and assigner.center_sample_radius == 2.5
    assert assigner.max_pairs == 100
    assert 'max_pairs=100' in repr(assigner)


@pytest.mark.parametrize('kwargs, match', [
    (dict(regress_ranges=((64, -1), )), r'regress_ranges\[0\]'),
    (dict(regress_ranges=((0, 1, 2), )), r'regress_ranges\[0\]'),
    (dict(max_pairs=0), 'max_pairs'),
])
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FCOSPointAssigner(**kwargs)


def _assign_raw(points, strides, boxes, labels, num_ranges=1):
    ranges = ((-1, 64), (64, 1e8))[:num_ranges]
    return FCOSPointAssigner(ranges).assign(points, strides, boxes, labels,
                                            NUM_CLASSES)


def test_bad_input_names_the_box_or_level():
    points = grid_points((8, ), 16, 16)
    good_label = torch.tensor([0])
    with pytest.raises(ValueError, match=r'gt_bboxes\[1\]'):
        _assign_raw(points, (8, ), torch.tensor([[0, 0, 5, 5.],
                                                 [9, 0, 4, 5]]),
                    torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'gt_bboxes\[0\]'):
        _assign_raw(points, (8, ), torch.tensor([[0, 0, float('nan'), 5]]),
                    good_label)
    with pytest.raises(ValueError, match=r'gt_labels\[0\] = 3'):
        _assign_raw(points, (8, ), torch.tensor([[0, 0, 5, 5.]]),
                    torch.tensor([NUM_CLASSES]))
    with pytest.raises(ValueError, match='gt_labels must be'):
        _assign_raw(points, (8, ), torch.tensor([[0, 0, 5, 5.]]),
                    torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='gt_bboxes must be'):
        _assign_raw(points, (8, ), torch.tensor([[0, 0, 5]]), good_label)
    with pytest.raises(ValueError, match='2 point levels'):
        _assign_raw(points * 2, (8, 16), torch.zeros((0, 4)),
                    torch.zeros((0, ), dtype=torch.long))
    with pytest.raises(ValueError, match=r'points\[0\] must be'):
        _assign_raw([points[0][:, :1]], (8, ), torch.zeros((0, 4)),
                    torch.zeros((0, ), dtype=torch.long))
    with pytest.raises(ValueError, match=r'points\[1\] is torch.float64'):
        _assign_raw([points[0], points[0].double()], (8, 16),
                    torch.zeros((0, 4)), torch.zeros((0, ),
                                                     dtype=torch.long), 2)
    bad_points = points[0].clone()
    bad_points[3, 0] = float('inf')
    with pytest.raises(ValueError, match=r'points\[0\] has non-finite'):
        _assign_raw([bad_points], (8, ), torch.zeros((0, 4)),
                    torch.zeros((0, ), dtype=torch.long))


# ---------------------------------------------------------------- vs mmdet
STRIDES = (4, 8, 16, 32, 64)
RANGES = ((-1, 16), (16, 32), (32, 64), (64, 128), (128, INF))


def random_boxes(gen: torch.Generator, num: int, height: int,
                 width: int) -> Tensor:
    """Boxes from tiny to larger than the image, a third on integers."""
    xy = torch.rand(num, 2, generator=gen) * torch.tensor(
        [width + 20., height + 20.]) - 10
    wh = torch.rand(num, 2, generator=gen)**2 * 1.5 * max(height, width)
    boxes = torch.cat([xy, xy + wh], 1)
    third = num // 3
    # integer boxes put points on edges and on range ends
    boxes[:third] = boxes[:third].round()
    return boxes


def mmdet_targets(points, boxes_per_img, labels_per_img, center_sampling,
                  radius, norm_on_bbox=False):
    head = FCOSHead(
        num_classes=NUM_CLASSES,
        in_channels=2,
        feat_channels=2,
        stacked_convs=1,
        strides=STRIDES,
        regress_ranges=RANGES,
        center_sampling=center_sampling,
        center_sample_radius=radius,
        norm_on_bbox=norm_on_bbox,
        norm_cfg=None,
        init_cfg=None)
    gts = [
        InstanceData(bboxes=b, labels=lab)
        for b, lab in zip(boxes_per_img, labels_per_img)
    ]
    return head.get_targets(points, gts)


def ours_per_level(points, boxes_per_img, labels_per_img, center_sampling,
                   radius, max_pairs, featmap_sizes=None, strides=STRIDES):
    """Our batched results regrouped like mmdet's: per level, images
    concatenated. Unvalidated: the random boxes include zero-width ones,
    which mmdet accepts and the ground-truth check refuses."""
    assigner = FCOSPointAssigner(RANGES, center_sampling, radius, max_pairs)
    num = [p.size(0) for p in points]
    res = assigner.assign_batch(points, strides, boxes_per_img,
                                labels_per_img, NUM_CLASSES, featmap_sizes,
                                validate=False)
    # (N, P_l, ...) per level -> (N * P_l, ...)
    return [[part.flatten(0, 1) for part in field.split(num, 1)]
            for field in res]


@pytest.mark.parametrize('center_sampling, radius, max_pairs, seed', [
    (False, 1.5, 65536, 0),
    (True, 1.5, 65536, 1),
    (True, 0.75, 7, 2),
    (False, 1.5, 1, 3),
    (True, 2.5, 40, 4),
])
def test_equals_mmdet_on_random_boxes(center_sampling, radius, max_pairs,
                                      seed):
    gen = torch.Generator().manual_seed(seed)
    height, width = 72, 100
    points = grid_points(STRIDES, height, width)
    boxes = [random_boxes(gen, n, height, width) for n in (0, 9, 60)]
    # duplicates with other labels: ties must go to the first
    boxes[2][40:50] = boxes[2][30:40]
    labels = [torch.randint(0, NUM_CLASSES, (b.size(0), ), generator=gen)
              for b in boxes]
    want_labels, want_targets = mmdet_targets(points, boxes, labels,
                                              center_sampling, radius)
    got_labels, got_targets, got_inds = ours_per_level(
        points, boxes, labels, center_sampling, radius, max_pairs,
        grid_sizes(STRIDES, height, width))
    num_fg = 0
    for lvl in range(len(STRIDES)):
        assert torch.equal(got_labels[lvl], want_labels[lvl]), lvl
        fg = want_labels[lvl] < NUM_CLASSES
        assert torch.equal(got_targets[lvl][fg], want_targets[lvl][fg]), lvl
        assert ((got_inds[lvl] >= 0) == fg).all()
        num_fg += int(fg.sum())
    assert num_fg > 20  # the comparison covers real positives


def test_equals_mmdet_on_ties_and_dense_fallback():
    gen = torch.Generator().manual_seed(5)
    height, width = 64, 64
    points = grid_points(STRIDES, height, width)
    # many overlapping boxes of equal area (w x h and h x w), on integers
    xy = torch.randint(-8, 56, (80, 2), generator=gen).float()
    wh = torch.tensor([[12., 40.], [40., 12.], [24., 20.], [20., 24.]])
    boxes = torch.cat([xy, xy + wh.repeat(20, 1)], 1)
    labels = torch.randint(0, NUM_CLASSES, (80, ), generator=gen)
    perm = [torch.randperm(p.size(0), generator=gen) for p in points]
    shuffled = [p[i] for p, i in zip(points, perm)]
    # a row short of a grid, and an empty level: the dense path too
    ragged = [p[:-1] for p in points[:-1]] + [points[-1][:0]]
    sizes = grid_sizes(STRIDES, height, width)
    for pts, featmap_sizes in ((points, sizes), (points, None),
                               (shuffled, None), (ragged, None)):
        for center_sampling in (False, True):
            want_labels, want_targets = mmdet_targets(
                pts, [boxes], [labels], center_sampling, 1.5)
            got_labels, got_targets, _ = ours_per_level(
                pts, [boxes], [labels], center_sampling, 1.5, 4999,
                featmap_sizes)
            for lvl in range(len(STRIDES)):
                fg = want_labels[lvl] < NUM_CLASSES
                assert torch.equal(got_labels[lvl], want_labels[lvl])
                assert torch.equal(got_targets[lvl][fg],
                                   want_targets[lvl][fg])


def test_stride_normalised_targets_equal_mmdet_norm_on_bbox():
    gen = torch.Generator().manual_seed(6)
    points = grid_points(STRIDES, 48, 80)
    boxes = [random_boxes(gen, 25, 48, 80)]
    labels = [torch.randint(0, NUM_CLASSES, (25, ), generator=gen)]
    want_labels, want_targets = mmdet_targets(
        points, boxes, labels, True, 1.5, norm_on_bbox=True)
    got_labels, got_targets, _ = ours_per_level(points, boxes, labels, True,
                                                1.5, 65536,
                                                grid_sizes(STRIDES, 48, 80))
    for lvl, stride in enumerate(STRIDES):
        fg = want_labels[lvl] < NUM_CLASSES
        assert torch.equal(got_labels[lvl], want_labels[lvl])
        assert torch.equal(got_targets[lvl][fg] / stride,
                           want_targets[lvl][fg])


@pytest.mark.parametrize('center_sampling', [False, True])
def test_padding_boxes_of_negative_label_change_nothing(center_sampling):
    gen = torch.Generator().manual_seed(6)
    height, width = 72, 100
    points = grid_points(STRIDES, height, width)
    # image 1: one box of area > INF (1.44e8): mmdet assigns it only where
    # every box of the image is a candidate, so padding must not count
    boxes = [random_boxes(gen, 9, height, width),
             torch.tensor([[-6000., -6000., 6000., 6000.]]),
             torch.zeros(0, 4)]
    labels = [torch.randint(0, NUM_CLASSES, (b.size(0), ), generator=gen)
              for b in boxes]
    padded_boxes = [torch.cat([b, torch.zeros(16 - b.size(0), 4)])
                    for b in boxes]
    padded_labels = [torch.cat([lab, lab.new_full((16 - lab.size(0), ), -1)])
                     for lab in labels]
    assigner = FCOSPointAssigner(RANGES, center_sampling, max_pairs=300)
    for featmap_sizes in (grid_sizes(STRIDES, height, width), None):
        want = assigner.assign_batch(points, STRIDES, boxes, labels,
                                     NUM_CLASSES, featmap_sizes)
        got = assigner.assign_batch(points, STRIDES, padded_boxes,
                                    padded_labels, NUM_CLASSES,
                                    featmap_sizes, validate=False)
        for want_field, got_field in zip(want, got):
            assert torch.equal(got_field, want_field)
        assert (want.labels[1] < NUM_CLASSES).any()  # the huge box won
