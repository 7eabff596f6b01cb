"""The prior grid of one input (prior_grid), worked out by hand: a 40x40
input padded to 64x64; strides 16 and 32 give 4x4 points at 8, 24, 40, 56
and 2x2 at 16, 48 (offset 0.5)."""
import pytest
import torch

from fcos_mm.models.task_modules import (
    FCOSPointAssigner,
    candidate_mask,
    featmap_sizes,
    grid_points,
    level_of_point,
)

STRIDES = (16, 32)


def test_grid_of_a_padded_input():
    sizes = featmap_sizes((40, 40), STRIDES)
    assert sizes == [(4, 4), (2, 2)]
    assert featmap_sizes((40, 70), STRIDES, pad_size_divisor=1) == [
        (3, 5), (2, 3)]
    points = grid_points(sizes, STRIDES)
    assert [level.shape for level in points] == [(16, 2), (4, 2)]
    assert points[0][:5].tolist() == [[8, 8], [24, 8], [40, 8], [56, 8],
                                      [8, 24]]
    assert points[1].tolist() == [[16, 16], [48, 16], [16, 48], [48, 48]]
    assert level_of_point(points).tolist() == [0] * 16 + [1] * 4


def test_candidate_mask_assigns_each_box_alone():
    # A [0, 0, 30, 30] holds (8|24, 8|24) of level 0 and (16, 16) of level
    # 1; B [0, 0, 20, 20] holds (8, 8) and (16, 16). Together the smaller B
    # would take both; alone each keeps its own.
    sizes = featmap_sizes((64, 64), STRIDES)
    points = grid_points(sizes, STRIDES)
    boxes = torch.tensor([[0., 0., 30., 30.], [0., 0., 20., 20.]])
    labels = torch.tensor([0, 1])
    assigner = FCOSPointAssigner(regress_ranges=((-1, 1e8), (-1, 1e8)))
    mask = candidate_mask(assigner, points, STRIDES, boxes, labels, 2, sizes)
    assert mask.shape == (20, 2)
    assert torch.nonzero(mask[:, 0]).view(-1).tolist() == [0, 1, 4, 5, 16]
    assert torch.nonzero(mask[:, 1]).view(-1).tolist() == [0, 16]
    together = assigner.assign(points, STRIDES, boxes, labels, 2, sizes)
    assert together.gt_inds[[0, 1, 16]].tolist() == [1, 0, 1]
    # no validation: a degenerate box is simply nobody's candidate
    flat = torch.tensor([[5., 5., 5., 9.]])
    with pytest.raises(ValueError):
        candidate_mask(assigner, points, STRIDES, flat, labels[:1], 2, sizes)
    assert not candidate_mask(assigner, points, STRIDES, flat, labels[:1], 2,
                              sizes, validate=False).any()
    assert candidate_mask(assigner, points, STRIDES, boxes[:0], labels[:0],
                          2, sizes).shape == (20, 0)


def test_assigner_replace_changes_only_what_it_is_given():
    assigner = FCOSPointAssigner(regress_ranges=((-1, 8), (8, 16)),
                                 center_sampling=True, max_pairs=64)
    free = assigner.replace(regress_ranges=((-1, 1e8), (-1, 1e8)))
    assert free is not assigner and type(free) is FCOSPointAssigner
    assert free.regress_ranges == [(-1, 1e8), (-1, 1e8)]
    assert (free.center_sampling, free.center_sample_radius,
            free.max_pairs) == (True, 1.5, 64)
    assert assigner.regress_ranges == [(-1, 8), (8, 16)]
    assert free._table_cache is not assigner._table_cache
    with pytest.raises(TypeError, match='no option strides'):
        assigner.replace(strides=(8, 16))
