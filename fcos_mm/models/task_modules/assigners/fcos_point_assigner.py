"""FCOS point assigner: which ground-truth box each prior point regresses.

Shape shorthand and names used throughout this module:

* ``L``: number of pyramid levels; ``l`` one level.
* ``H_l, W_l``: height and width of level ``l``'s point grid.
* ``P = sum_l H_l * W_l``: all points of one image, levels concatenated
  level-major (all of P3, then all of P4, ...), row-major inside a level, as
  mmdet's ``MlvlPointGenerator(strides, offset=0.5).grid_priors`` returns
  them and the head flattens its outputs.
* ``G``: number of ground-truth boxes of the image (may be 0).
* ``K``: number of candidate (point, box) pairs handled at once;
  ``K <= max_pairs``.
* ``points``: per level ``(H_l * W_l, 2)`` point coordinates ``(x, y)``.
* ``gt_bboxes``: ``(G, 4)`` boxes ``(x1, y1, x2, y2)`` in pixels.
* ``gt_labels``: ``(G,)`` class indices in ``[0, num_classes)``.
* ``labels``: ``(P,)`` class of each point, ``num_classes`` = background.
* ``bbox_targets``: ``(P, 4)`` distances ``(l, t, r, b)`` in pixels from the
  point to the left, top, right and bottom side of its box.
* ``gt_inds``: ``(P,)`` index into ``gt_bboxes`` of the point's box, ``-1``
  for background.

The rule (FCOS, Tian et al. 2019; mmdet 3.3 ``FCOSHead._get_targets_single``)
-------------------------------------------------------------------------
A point ``(x, y)`` of level ``l`` with stride ``s_l`` and regress range
``(low_l, high_l)`` is a candidate of box ``g`` when

1. it lies strictly inside the box: ``min(l, t, r, b) > 0``; or, with centre
   sampling, strictly inside the box's centre region ``centre +- s_l *
   center_sample_radius`` clipped to the box;
2. ``low_l <= max(l, t, r, b) <= high_l`` (both ends inclusive).

Among its candidates a point takes the box of smallest area
``(x2 - x1) * (y2 - y1)``, the lowest box index on an exact tie; a point
with no candidate is background. Every float operation that decides a
comparison is done in the same order and dtype as mmdet's, so the targets are
identical bit for bit (see :meth:`FCOSPointAssigner.assign` for the one
pathological case kept for that reason).

Why not mmdet's code
--------------------
mmdet materialises ``(P, G, 4)`` tensors and several expansions of them:
hundreds of MiB to GiB per image at 800x1344 with hundreds of boxes. Here a
level's points are a regular grid, so only a small rectangle of grid cells
can be a candidate of a given box (inside the box, or its centre region, and
within ``high_l`` of all four sides), and a level whose range a box cannot
meet is skipped. Only those (point, box) pairs are enumerated, ``max_pairs``
at a time, and reduced per point with a running minimum.
"""
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from fcos_mm.registry import TASK_UTILS

#: mmdet's "no box" area sentinel (``fcos_head.INF``); kept for exactness.
INF = 1e8


class FCOSAssignResult(NamedTuple):
    """Targets of one image, all levels concatenated level-major.

    Attributes:
        labels (Tensor): ``(P,)`` long, the class of each point's box,
            ``num_classes`` for background.
        bbox_targets (Tensor): ``(P, 4)`` float ``(l, t, r, b)`` distances in
            pixels (not divided by the stride) from each point to the sides
            of its box; zeros for background points.
        gt_inds (Tensor): ``(P,)`` long, index into ``gt_bboxes`` of each
            point's box, ``-1`` for background.
    """
    labels: Tensor
    bbox_targets: Tensor
    gt_inds: Tensor


class _Cells(NamedTuple):
    """Candidate rectangles of grid cells, one per (level, box) entry ``E``.

    Entry ``e`` covers the cells ``(r0[e] + i, c0[e] + j)`` for
    ``0 <= i < nr[e]``, ``0 <= j < nc[e]`` of a level whose points start at
    ``offset[e]`` in ``P`` and whose rows are ``width[e]`` points long. A
    level that is not a grid is one row of all its points (the dense
    fallback).
    """
    box: Tensor  # (E,) long
    level: Tensor  # (E,) long
    offset: Tensor  # (E,) long
    width: Tensor  # (E,) long
    r0: Tensor  # (E,) long
    c0: Tensor  # (E,) long
    nc: Tensor  # (E,) long
    count: Tensor  # (E,) long, nr * nc


@TASK_UTILS.register_module()
class FCOSPointAssigner:
    """Assign FCOS prior points to ground-truth boxes, memory-bounded.

    A pure ``no_grad`` function of points and ground truth, no learnable
    state; built by the head from ``train_cfg.assigner``. The result equals
    mmdet 3.3's ``FCOSHead._get_targets_single`` bit for bit (labels,
    foreground ``bbox_targets`` before stride normalisation, and the box each
    point took), see the module docstring for the rule.

    Memory: besides the ``O(P)`` outputs and running minima, and ``O(G * L)``
    per-(box, level) bookkeeping, the working set is ``O(max_pairs)``: each
    chunk holds at most ``max_pairs`` candidate pairs with about 20 scalars
    each (roughly ``160 * max_pairs`` bytes, 10 MiB at the default), however
    many boxes come. Time is linear in the number of candidate pairs, which
    is at most ``(2 * radius + 1) ** 2`` cells per box and level with
    centre sampling and about ``(2 * high_l / s_l) ** 2`` without it (plus
    ``H_l * W_l`` per box on a level whose points are not a grid).

    Args:
        regress_ranges (Sequence[Tuple[float, float]]): ``(low, high)`` of
            ``max(l, t, r, b)`` per level, both ends inclusive. Defaults to
            FCOS's ``((-1, 64), (64, 128), (128, 256), (256, 512),
            (512, 1e8))``.
        center_sampling (bool): Whether a point must lie in the box's centre
            region instead of anywhere in the box. Defaults to False.
        center_sample_radius (float): Half-size of the centre region in
            strides of the level. Defaults to 1.5.
        max_pairs (int): Most candidate (point, box) pairs processed at
            once; bounds the working memory. Defaults to 65536.
    """

    def __init__(self,
                 regress_ranges: Sequence[Tuple[float, float]] = (
                     (-1, 64), (64, 128), (128, 256), (256, 512), (512, INF)),
                 center_sampling: bool = False,
                 center_sample_radius: float = 1.5,
                 max_pairs: int = 65536) -> None:
        ranges = [tuple(r) for r in regress_ranges]
        for lvl, rng in enumerate(ranges):
            if len(rng) != 2 or not rng[0] <= rng[1]:
                raise ValueError(
                    'FCOSPointAssigner: regress_ranges[{}] = {!r} is not a '
                    '(low, high) pair with low <= high'.format(lvl, rng))
        if not isinstance(max_pairs, int) or max_pairs < 1:
            raise ValueError('FCOSPointAssigner: max_pairs must be a positive '
                             'int, got {!r}'.format(max_pairs))
        self.regress_ranges = ranges
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.max_pairs = max_pairs

    def __repr__(self) -> str:
        return ('{}(regress_ranges={}, center_sampling={}, '
                'center_sample_radius={}, max_pairs={})'.format(
                    type(self).__name__, self.regress_ranges,
                    self.center_sampling, self.center_sample_radius,
                    self.max_pairs))

    @torch.no_grad()
    def assign(self, points: List[Tensor], strides: Sequence[int],
               gt_bboxes: Tensor, gt_labels: Tensor,
               num_classes: int) -> FCOSAssignResult:
        """Assign every point of one image to a box or to background.

        mmdet's one pathological case is reproduced too: its "no candidate"
        sentinel is an area of ``1e8``, so a box of area ``>= 1e8`` pixels
        only wins a point where every box is a candidate and all their areas
        exceed ``1e8``.

        Args:
            points (list[Tensor]): Per level ``(H_l * W_l, 2)`` float ``(x,
                y)`` points, row-major grids as mmdet's ``MlvlPointGenerator``
                gives them (any other layout falls back to a chunked dense
                path with the same result).
            strides (Sequence[int]): Per level stride in pixels, e.g.
                ``(8, 16, 32, 64, 128)``; sets the centre region size.
            gt_bboxes (Tensor): ``(G, 4)`` float ``(x1, y1, x2, y2)`` boxes in
                pixels; ``G`` may be 0.
            gt_labels (Tensor): ``(G,)`` long class indices.
            num_classes (int): Number of classes; the background label.

        Returns:
            FCOSAssignResult: ``labels`` ``(P,)``, ``bbox_targets`` ``(P, 4)``
            in pixels (zeros for background) and ``gt_inds`` ``(P,)`` (-1 for
            background), levels concatenated level-major.

        Raises:
            ValueError: On inconsistent levels, malformed points, or a box
                that is not finite, has ``x2 < x1`` or ``y2 < y1``, or whose
                label is outside ``[0, num_classes)``; the message names the
                level or box.
        """
        self._check_inputs(points, strides, gt_bboxes, gt_labels, num_classes)
        device = gt_bboxes.device
        # mmdet subtracts points from boxes with type promotion; box-only
        # quantities (areas, centre regions) stay in the boxes' dtype.
        dtype = torch.promote_types(points[0].dtype, gt_bboxes.dtype)
        all_points = torch.cat(points).to(device)  # (P, 2)
        num_points = all_points.size(0)
        num_gts = gt_bboxes.size(0)

        labels = gt_labels.new_full((num_points, ), num_classes)
        bbox_targets = all_points.new_zeros((num_points, 4), dtype=dtype)
        gt_inds = torch.full((num_points, ),
                             -1,
                             dtype=torch.long,
                             device=device)
        if num_gts == 0 or num_points == 0:
            return FCOSAssignResult(labels, bbox_targets, gt_inds)

        cells, regions = self._candidate_cells(points, strides, gt_bboxes,
                                               dtype)
        best_area, best_ind, num_cand = self._reduce_pairs(
            cells, regions, all_points, points[0].dtype, gt_bboxes)

        # mmdet: min over all boxes of (area if candidate else INF) < INF.
        inf = best_area.new_tensor(INF)
        fg = (best_area < inf) | ((num_cand == num_gts) & (best_area > inf))
        fg_inds = fg.nonzero(as_tuple=True)[0]
        fg_gts = best_ind[fg_inds]
        gt_inds[fg_inds] = fg_gts
        labels[fg_inds] = gt_labels[fg_gts]
        fg_boxes = gt_bboxes[fg_gts]
        xs, ys = all_points[fg_inds, 0], all_points[fg_inds, 1]
        bbox_targets[fg_inds] = torch.stack(
            (xs - fg_boxes[:, 0], ys - fg_boxes[:, 1], fg_boxes[:, 2] - xs,
             fg_boxes[:, 3] - ys), -1).to(dtype)
        return FCOSAssignResult(labels, bbox_targets, gt_inds)

    def _check_inputs(self, points: List[Tensor], strides: Sequence[int],
                      gt_bboxes: Tensor, gt_labels: Tensor,
                      num_classes: int) -> None:
        """Raise a ValueError naming the level or box of malformed input."""
        name = type(self).__name__
        if not len(points) == len(strides) == len(self.regress_ranges):
            raise ValueError(
                '{}: got {} point levels and {} strides but {} '
                'regress_ranges'.format(name, len(points), len(strides),
                                        len(self.regress_ranges)))
        for lvl, pts in enumerate(points):
            if (pts.dim() != 2 or pts.size(1) != 2
                    or not pts.is_floating_point()):
                raise ValueError(
                    '{}: points[{}] must be a float (N, 2) tensor, got {} of '
                    'shape {}'.format(name, lvl, pts.dtype, tuple(pts.shape)))
            if pts.dtype != points[0].dtype:
                raise ValueError('{}: points[{}] is {} but points[0] is '
                                 '{}'.format(name, lvl, pts.dtype,
                                             points[0].dtype))
            if not bool(torch.isfinite(pts).all()):
                raise ValueError('{}: points[{}] has non-finite '
                                 'coordinates'.format(name, lvl))
        if (gt_bboxes.dim() != 2 or gt_bboxes.size(1) != 4
                or not gt_bboxes.is_floating_point()):
            raise ValueError('{}: gt_bboxes must be a float (G, 4) tensor, '
                             'got {} of shape {}'.format(
                                 name, gt_bboxes.dtype,
                                 tuple(gt_bboxes.shape)))
        if (gt_labels.dim() != 1 or gt_labels.size(0) != gt_bboxes.size(0)
                or gt_labels.is_floating_point()):
            raise ValueError(
                '{}: gt_labels must be an integer ({},) tensor to match '
                'gt_bboxes, got {} of shape {}'.format(
                    name, gt_bboxes.size(0), gt_labels.dtype,
                    tuple(gt_labels.shape)))
        if gt_bboxes.size(0) == 0:
            return
        bad = ~torch.isfinite(gt_bboxes).all(1)
        bad |= gt_bboxes[:, 2] < gt_bboxes[:, 0]
        bad |= gt_bboxes[:, 3] < gt_bboxes[:, 1]
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                '{}: gt_bboxes[{}] = {} is not a finite (x1, y1, x2, y2) box '
                'with x1 <= x2 and y1 <= y2'.format(name, i,
                                                    gt_bboxes[i].tolist()))
        bad = (gt_labels < 0) | (gt_labels >= num_classes)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                '{}: gt_labels[{}] = {} is outside [0, num_classes={})'.format(
                    name, i, int(gt_labels[i]), num_classes))

    def _regions(self, gt_bboxes: Tensor,
                 strides: Sequence[int]) -> List[Tensor]:
        """Per level ``(G, 4)`` region a candidate point must lie inside.

        The box itself, or with centre sampling its centre region clipped to
        the box, computed exactly as mmdet does (same ops, same dtype) so the
        strict inside test agrees bit for bit.
        """
        if not self.center_sampling:
            return [gt_bboxes] * len(strides)
        x1, y1, x2, y2 = gt_bboxes.unbind(1)
        cx = (x1 + x2) / 2
        cy = (y1 + y2) / 2
        regions = []
        for stride in strides:
            # mmdet fills a tensor of the boxes' dtype with stride * radius
            # computed in Python, then subtracts it.
            rad = cx.new_tensor(stride * self.center_sample_radius)
            regions.append(
                torch.stack((torch.where(cx - rad > x1, cx - rad, x1),
                             torch.where(cy - rad > y1, cy - rad, y1),
                             torch.where(cx + rad > x2, x2, cx + rad),
                             torch.where(cy + rad > y2, y2, cy + rad)), 1))
        return regions

    def _candidate_cells(self, points: List[Tensor], strides: Sequence[int],
                         gt_bboxes: Tensor,
                         dtype: torch.dtype) -> Tuple[_Cells, List[Tensor]]:
        """Enumerate, per level and box, the rectangle of cells to test.

        On a grid level the rectangle holds exactly the cells strictly inside
        the region and within ``high`` of all four box sides; the lower range
        end only drops whole (level, box) entries. The exact test then runs
        on every pair, so the rectangle only needs to hold all candidates.

        Args:
            points (list[Tensor]): Per level ``(H_l * W_l, 2)`` points.
            strides (Sequence[int]): Per level stride.
            gt_bboxes (Tensor): ``(G, 4)`` boxes.
            dtype (torch.dtype): Dtype the point-box subtractions run in.

        Returns:
            tuple[_Cells, list[Tensor]]: The non-empty entries, and per level
            the ``(G, 4)`` regions from :meth:`_regions`.
        """
        device = gt_bboxes.device
        num_gts = gt_bboxes.size(0)
        box_ids = torch.arange(num_gts, device=device)
        regions = self._regions(gt_bboxes, strides)
        box = gt_bboxes.to(dtype).contiguous()
        # Inside the box max(l, t, r, b) <= max(w, h) (rounding is
        # monotonic), so a box with max(w, h) < low is out of the level's
        # range everywhere.
        max_side = torch.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
        entries = []
        offset = 0
        for lvl, pts in enumerate(points):
            low, high = (pts.new_tensor(v).to(device)
                         for v in self.regress_ranges[lvl])
            n = pts.size(0)
            keep = max_side >= low
            grid = _as_grid(pts)
            if grid is None:
                # dense fallback: every point of the level, as one row
                zeros = torch.zeros_like(box_ids)
                c0, nc, r0, nr = zeros, zeros + n, zeros, zeros + 1
                width = n
            else:
                xs, ys = (t.to(device=device, dtype=dtype) for t in grid)
                width = xs.numel()
                reg = regions[lvl].to(dtype)
                c0, c1 = _span(xs, reg[:, 0::2], box[:, 0::2], high)
                r0, r1 = _span(ys, reg[:, 1::2], box[:, 1::2], high)
                nc = (c1 - c0).clamp(min=0)
                nr = (r1 - r0).clamp(min=0)
            count = nc * nr * keep
            sel = count > 0
            if bool(sel.any()):
                k = int(sel.sum())
                entries.append(
                    _Cells(box_ids[sel], box_ids.new_full((k, ), lvl),
                           box_ids.new_full((k, ), offset),
                           box_ids.new_full((k, ), width), r0[sel], c0[sel],
                           nc[sel], count[sel]))
            offset += n
        if not entries:
            empty = box_ids.new_zeros((0, ))
            return _Cells(*([empty] * 8)), regions
        return _Cells(*(torch.cat(f) for f in zip(*entries))), regions

    def _reduce_pairs(
            self, cells: _Cells, regions: List[Tensor], all_points: Tensor,
            points_dtype: torch.dtype,
            gt_bboxes: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Test the candidate pairs ``max_pairs`` at a time, reduce per point.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``(P,)`` smallest area among the
            point's candidate boxes (``inf`` if none), ``(P,)`` the lowest
            box index of that area, ``(P,)`` number of candidate boxes.
        """
        num_points = all_points.size(0)
        num_gts = gt_bboxes.size(0)
        device = gt_bboxes.device
        areas = (gt_bboxes[:, 2] - gt_bboxes[:, 0]) * (
            gt_bboxes[:, 3] - gt_bboxes[:, 1])  # (G,) as mmdet
        best_area = areas.new_full((num_points, ), float('inf'))
        best_ind = torch.full((num_points, ),
                              num_gts,
                              dtype=torch.long,
                              device=device)
        num_cand = torch.zeros((num_points, ),
                               dtype=torch.long,
                               device=device)
        if cells.count.numel() == 0:
            return best_area, best_ind, num_cand
        # mmdet compares max(l, t, r, b) with ranges in the points' dtype
        ranges = torch.tensor(
            self.regress_ranges, dtype=points_dtype, device=device)  # (L, 2)
        if self.center_sampling:
            level_regions = torch.stack(regions)  # (L, G, 4)
        ends = cells.count.cumsum(0)  # (E,)
        total = int(ends[-1])
        starts = ends - cells.count
        for k0 in range(0, total, self.max_pairs):
            k = torch.arange(
                k0, min(k0 + self.max_pairs, total), device=device)  # (K,)
            e = torch.searchsorted(ends, k, right=True)  # (K,) entry
            q = k - starts[e]  # (K,) cell inside the entry's rectangle
            nc = cells.nc[e]
            pt = (cells.offset[e] + (cells.r0[e] + q // nc) * cells.width[e] +
                  cells.c0[e] + q % nc)  # (K,) into P
            del k, q, nc
            g = cells.box[e]  # (K,)
            lvl = cells.level[e]  # (K,)
            del e
            xs, ys = all_points[pt, 0], all_points[pt, 1]
            box = gt_bboxes[g]  # (K, 4)
            # l, t, r, b exactly as mmdet: point minus box side
            ltrb = torch.stack((xs - box[:, 0], ys - box[:, 1],
                                box[:, 2] - xs, box[:, 3] - ys), 1)
            if self.center_sampling:
                reg = level_regions[lvl, g]  # (K, 4)
                inside = torch.stack((xs - reg[:, 0], ys - reg[:, 1],
                                      reg[:, 2] - xs, reg[:, 3] - ys),
                                     1).min(1)[0] > 0
                del reg
            else:
                inside = ltrb.min(1)[0] > 0
            max_dist = ltrb.max(1)[0]
            del ltrb, box, xs, ys
            rng = ranges[lvl]  # (K, 2)
            ok = inside & (max_dist >= rng[:, 0]) & (max_dist <= rng[:, 1])
            del inside, max_dist, rng, lvl
            pt, g = pt[ok], g[ok]
            if pt.numel() == 0:
                continue
            area = areas[g]
            num_cand.scatter_add_(0, pt, torch.ones_like(pt))
            new_area = best_area.scatter_reduce(
                0, pt, area, 'amin', include_self=True)
            # the old winner stays only if its area is still the minimum;
            # then the lowest index among pairs of the minimum area wins.
            best_ind = torch.where(new_area == best_area, best_ind,
                                   best_ind.new_tensor(num_gts))
            at_min = area == new_area[pt]
            best_ind.scatter_reduce_(0, pt[at_min], g[at_min], 'amin')
            best_area = new_area
        return best_area, best_ind, num_cand


def _as_grid(pts: Tensor) -> Optional[Tuple[Tensor, Tensor]]:
    """The level's column xs and row ys if ``pts`` is a row-major grid.

    Args:
        pts (Tensor): ``(N, 2)`` points of one level.

    Returns:
        tuple[Tensor, Tensor] | None: ``(W,)`` strictly increasing xs and
        ``(H,)`` strictly increasing ys with ``pts[i * W + j] == (xs[j],
        ys[i])``, or None when the points are not such a grid.
    """
    n = pts.size(0)
    if n == 0:
        return None
    changes = (pts[1:, 1] != pts[0, 1]).nonzero()
    width = int(changes[0, 0]) + 1 if changes.numel() else n
    if n % width:
        return None
    grid = pts.view(n // width, width, 2)
    xs, ys = grid[0, :, 0], grid[:, 0, 1]
    if not (bool((xs[1:] > xs[:-1]).all()) and bool(
            (ys[1:] > ys[:-1]).all()) and bool(
                (grid[..., 0] == xs).all()) and bool(
                    (grid[..., 1] == ys[:, None]).all())):
        return None
    return xs.contiguous(), ys.contiguous()


def _first_true(coords: Tensor, pred: Callable[[Tensor], Tensor],
                guess: Tensor) -> Tensor:
    """Per box, the first index of ``coords`` where ``pred`` holds.

    ``pred`` must be monotonic along ``coords`` (false, ..., false, true,
    ..., true). ``guess`` comes from ``searchsorted`` on a bound computed with
    different rounding than mmdet's test; a few vectorised steps move it onto
    the exact boundary of the exact test, so the spans are exact, not padded.

    Args:
        coords (Tensor): ``(W,)`` strictly increasing cell coordinates.
        pred (Callable[[Tensor], Tensor]): Maps ``(G,)`` coordinates, one per
            box, to ``(G,)`` bools, the exact per-box test.
        guess (Tensor): ``(G,)`` long first guess in ``[0, W]``.

    Returns:
        Tensor: ``(G,)`` long index in ``[0, W]`` (``W``: true nowhere).
    """
    last = coords.numel() - 1
    idx = guess.clamp(0, last + 1)
    while True:
        down = (idx > 0) & pred(coords[(idx - 1).clamp(min=0)])
        up = (idx <= last) & ~pred(coords[idx.clamp(max=last)])
        if not bool((down | up).any()):
            return idx
        idx = idx - down.long() + up.long()


def _span(coords: Tensor, region: Tensor, box: Tensor,
          high: Tensor) -> Tuple[Tensor, Tensor]:
    """Index span ``[lo, hi)`` of the cells that pass mmdet's tests.

    A cell coordinate ``x`` is kept when it is strictly inside the region,
    ``x - a > 0`` and ``b - x > 0``, and within ``high`` of both box sides,
    ``x - x1 <= high`` and ``x2 - x <= high``: each a monotonic test, so the
    cells passing all of them form one span. The tests are evaluated with
    mmdet's exact expressions, so the span is exact.

    Args:
        coords (Tensor): ``(W,)`` strictly increasing cell coordinates, in
            the dtype the subtractions are done in.
        region (Tensor): ``(G, 2)`` region ``(a, b)`` along this axis.
        box (Tensor): ``(G, 2)`` box sides ``(x1, x2)`` along this axis.
        high (Tensor): Upper regress range, a scalar tensor.

    Returns:
        tuple[Tensor, Tensor]: ``(G,)`` long ``lo`` and ``hi``; empty where
        ``hi <= lo``.
    """
    a, b = (v.contiguous() for v in region.unbind(1))
    x1, x2 = (v.contiguous() for v in box.unbind(1))
    lo = torch.maximum(
        _first_true(coords, lambda x: x - a > 0,
                    torch.searchsorted(coords, a, right=True)),
        _first_true(coords, lambda x: x2 - x <= high,
                    torch.searchsorted(coords, x2 - high)))
    hi = torch.minimum(
        _first_true(coords, lambda x: ~(b - x > 0),
                    torch.searchsorted(coords, b)),
        _first_true(coords, lambda x: ~(x - x1 <= high),
                    torch.searchsorted(coords, x1 + high, right=True)))
    return lo, hi
