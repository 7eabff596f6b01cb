"""FCOS point assigner: which ground-truth box each prior point regresses.

Shape shorthand
---------------
* ``N``: images in the batch; ``L``: pyramid levels, ``l`` one level, with
  an ``H_l x W_l`` grid of points.
* ``P = sum_l H_l * W_l``: all points of one image, levels concatenated
  level-major, row-major inside a level (``MlvlPointGenerator`` order).
* ``G``: boxes of one image (may be 0); ``B = sum G``: boxes of the batch,
  images concatenated; ``b``: boxes of one chunk.
* ``M``: cells tested per box (all levels), fixed by the config and the
  feature-map sizes; ``(B, M)`` pairs in all, ``max_pairs`` at a time.
* ``Wr x Wc``: the frame that holds each level's window of cells.
* ``points``: per level ``(H_l * W_l, 2)`` coordinates ``(x, y)``;
  ``gt_bboxes``: ``(G, 4)`` boxes ``(x1, y1, x2, y2)`` in pixels;
  ``gt_labels``: ``(G,)`` classes in ``[0, num_classes)``.
* ``labels``: ``(N, P)`` class of each point, ``num_classes`` = background;
  ``bbox_targets``: ``(N, P, 4)`` pixel distances ``(l, t, r, b)`` from the
  point to the sides of its box (zeros for background); ``gt_inds``:
  ``(N, P)`` index into the image's ``gt_bboxes``, ``-1`` for background.

The rule (FCOS, Tian et al. 2019; mmdet 3.3 ``FCOSHead._get_targets_single``)
-------------------------------------------------------------------------
A point ``(x, y)`` of level ``l`` with stride ``s_l`` and regress range
``(low_l, high_l)`` is a candidate of box ``g`` when

1. it lies strictly inside the box: ``min(l, t, r, b) > 0``; or, with centre
   sampling, strictly inside the box's centre region ``centre +- s_l *
   center_sample_radius`` clipped to the box;
2. ``low_l <= max(l, t, r, b) <= high_l`` (both ends inclusive).

Among its candidates a point takes the box of smallest area, the lowest box
index on a tie; a point with no candidate is background. Every float
operation that decides a comparison is done in mmdet's order and dtype, so
the targets are identical bit for bit, down to mmdet's "no candidate"
sentinel, an area of :data:`INF` ``= 1e8``: a box of area ``>= 1e8`` only
wins a point where every box of the image is a candidate and all their
areas exceed ``1e8``.

Differences from mmdet
----------------------
mmdet materialises ``(P, G, 4)`` tensors per image (GiB at 800x1344 with
hundreds of boxes). Here a candidate of level ``l`` lies within ``bound_l =
high_l`` of the box's sides (``min(high_l, 2 * radius * s_l)`` with centre
sampling), so each (box, level) gets a **window of fixed size**
``min(H_l, bound_l / s_l + 3) x min(W_l, ...)`` cells (one of margin each
side), placed on the grid by arithmetic, ``x_j = x_0 + j * s_l``.

The exact test separates by axis (:meth:`FCOSPointAssigner._grid_pairs`),
all levels and images at once; one scatter-min per point of its candidates'
keys (area rank, then index) gives mmdet's choice. Window shapes, the
constant tables (cached per batch shape) and the chunks come from shapes
the host knows: no synchronisation, no ``nonzero``, no data-dependent loop.
Without ``featmap_sizes`` every point is tested against every box.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from fcos_mm.registry import TASK_UTILS

from ...utils import check_float_rows, check_ground_truth

#: mmdet's "no box" area sentinel (``fcos_head.INF``); kept for exactness.
INF = 1e8

#: The paper's regress ranges of P3-P7, the default of the assigner.
FCOS_REGRESS_RANGES = ((-1, 64), (64, 128), (128, 256), (256, 512),
                       (512, INF))

#: ``featmap_sizes``: per level ``(H_l, W_l)``, or None.
FeatmapSizes = Optional[Sequence[Tuple[int, int]]]


class FCOSAssignResult(NamedTuple):
    """The module shorthand's targets; ``(P, ...)`` for one image."""
    labels: Tensor
    bbox_targets: Tensor
    gt_inds: Tensor


class _Level(NamedTuple):
    """Host-side geometry of one level: its first point in ``P``, its grid
    (one row without ``featmap_sizes``) and the window tested per box."""
    start: int
    rows: int
    cols: int
    win_rows: int
    win_cols: int
    stride: int
    low: float
    high: float


class _Tables(NamedTuple):
    """Device constants of one grid layout (levels, grid sizes, dtypes).
    Each window sits in the ``Wr x Wc`` frame; cells past it are padding."""
    radius: Tensor  # (L,) box dtype: stride * center_sample_radius
    high_box: Tensor  # (L,) box dtype: upper range, to place the windows
    stride: Tensor  # (L,) box dtype: grid spacing, to place the windows
    first_point: Tensor  # (L,) long: index in P of the level's first point
    max_start: Tensor  # (L, 2) long: (cols - win_cols, rows - win_rows)
    col_valid: Tensor  # (L, Wc) bool: a column of the level's window
    row_valid: Tensor  # (L, Wr) bool: a row of the level's window
    last_col: Tensor  # (L, 1) long: cols - 1 (padding stays on the grid)
    last_row: Tensor  # (L, 1) long: rows - 1
    row_len: Tensor  # (L, 1) long: cols, points per row
    low: Tensor  # (L, 1) points dtype: the level's lower range
    high: Tensor  # (L, 1) points dtype: the level's upper range


@TASK_UTILS.register_module()
class FCOSPointAssigner:
    """Assign FCOS prior points to ground-truth boxes, batched and sync-free.

    The module docstring gives the rule and the design. Memory besides the
    ``O(N * P)`` outputs: about 25 bytes per (box, cell) pair, ``max_pairs``
    at a time. A box's frame is 5 x 6 x 6 cells with centre sampling (radius
    1.5), 5 x 11 x 11 with the paper's ranges without it.

    Args:
        regress_ranges (Sequence[Tuple[float, float]]): ``(low, high)`` of
            ``max(l, t, r, b)`` per level, both ends inclusive. Defaults to
            :data:`FCOS_REGRESS_RANGES`.
        center_sampling (bool): A point must lie in the box's centre
            region. Defaults to False.
        center_sample_radius (float): Half-size of the centre region in
            strides of the level. Defaults to 1.5.
        max_pairs (int): Most (box, cell) pairs tested at once: boxes are
            taken ``max(1, max_pairs // M)`` at a time. Defaults to 1048576.
    """

    def __init__(self,
                 regress_ranges: Sequence[Tuple[float,
                                                float]] = FCOS_REGRESS_RANGES,
                 center_sampling: bool = False,
                 center_sample_radius: float = 1.5,
                 max_pairs: int = 1 << 20) -> None:
        if not isinstance(max_pairs, int) or max_pairs < 1:
            raise ValueError('FCOSPointAssigner: max_pairs must be a positive '
                             f'int, got {max_pairs!r}')
        self.regress_ranges = regress_ranges
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.max_pairs = max_pairs
        # constant tables per layout, reused while the batch shape repeats
        self._table_cache: Dict[tuple, _Tables] = {}

    @property
    def regress_ranges(self) -> List[Tuple[float, float]]:
        """Per level ``(low, high)``; checked whenever it is set."""
        return self._regress_ranges

    @regress_ranges.setter
    def regress_ranges(self,
                       regress_ranges: Sequence[Tuple[float, float]]) -> None:
        ranges = [tuple(r) for r in regress_ranges]
        for lvl, rng in enumerate(ranges):
            if len(rng) != 2 or not rng[0] <= rng[1]:
                raise ValueError(
                    f'FCOSPointAssigner: regress_ranges[{lvl}] = {rng!r} is '
                    'not a (low, high) pair with low <= high')
        self._regress_ranges = ranges

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(regress_ranges={self.regress_ranges}'
                f', center_sampling={self.center_sampling}, '
                f'center_sample_radius={self.center_sample_radius}, '
                f'max_pairs={self.max_pairs})')

    def replace(self, **options) -> 'FCOSPointAssigner':
        """A new assigner with this one's options, ``options`` (keyword
        arguments of the constructor) changed; it has its own cache."""
        current = dict(regress_ranges=self.regress_ranges,
                       center_sampling=self.center_sampling,
                       center_sample_radius=self.center_sample_radius,
                       max_pairs=self.max_pairs)
        unknown = sorted(set(options) - set(current))
        if unknown:
            raise TypeError(f'{type(self).__name__}.replace: no option '
                            f'{", ".join(unknown)}; options are '
                            f'{", ".join(current)}')
        return type(self)(**{**current, **options})

    def assign(self, points: List[Tensor], strides: Sequence[int],
               gt_bboxes: Tensor, gt_labels: Tensor, num_classes: int,
               featmap_sizes: FeatmapSizes = None) -> FCOSAssignResult:
        """:meth:`assign_batch` of one image: ``(P, ...)`` targets."""
        result = self.assign_batch(points, strides, [gt_bboxes], [gt_labels],
                                   num_classes, featmap_sizes)
        return FCOSAssignResult(*(field[0] for field in result))

    @torch.no_grad()
    def assign_batch(self,
                     points: List[Tensor],
                     strides: Sequence[int],
                     batch_gt_bboxes: Sequence[Tensor],
                     batch_gt_labels: Sequence[Tensor],
                     num_classes: int,
                     featmap_sizes: FeatmapSizes = None,
                     validate: bool = True) -> FCOSAssignResult:
        """Assign every point of every image to a box or to background.

        Args:
            points (list[Tensor]): Per level ``(H_l * W_l, 2)`` float
                points, shared by all images.
            strides (Sequence[int]): Per level stride in pixels.
            batch_gt_bboxes (Sequence[Tensor]): Per image ``(G, 4)`` float.
            batch_gt_labels (Sequence[Tensor]): Per image ``(G,)`` long;
                a negative label marks a padding box, never assigned (pass
                ``validate=False`` then).
            num_classes (int): Number of classes; the background label.
            featmap_sizes (Sequence[tuple[int, int]], optional): Per level
                ``(H_l, W_l)`` of a ``MlvlPointGenerator`` grid of spacing
                ``strides[l]``: only a window of it is tested per box. None
                tests every point (any order). Defaults to None.
            validate (bool): Check the ground truth and the points with
                ``check_ground_truth`` (one synchronisation); the head checks
                before and passes False. Defaults to True.

        Returns:
            FCOSAssignResult: ``(N, P, ...)`` targets.
        """
        self._check_levels(points, strides, featmap_sizes)
        if validate:
            check_ground_truth(batch_gt_bboxes, batch_gt_labels, num_classes,
                               points=points)
        num_imgs = len(batch_gt_bboxes)
        all_points = torch.cat(points)  # (P, 2)
        num_points = all_points.size(0)
        device = all_points.device
        boxes = torch.cat(
            [img_boxes.to(device) for img_boxes in batch_gt_bboxes]
            or [all_points.new_zeros((0, 4))])  # (B, 4)
        labels_of_box = torch.cat(
            [img_labels.to(device) for img_labels in batch_gt_labels]
            or [torch.zeros(0, dtype=torch.long, device=device)])  # (B,)
        # point minus box side promotes; box-only quantities (areas, centre
        # regions) stay in the boxes' dtype
        dtype = torch.promote_types(all_points.dtype, boxes.dtype)
        num_boxes = boxes.size(0)
        labels = labels_of_box.new_full((num_imgs, num_points), num_classes)
        if num_boxes == 0 or num_points == 0:
            return FCOSAssignResult(
                labels, all_points.new_zeros((num_imgs, num_points, 4),
                                             dtype=dtype),
                labels.new_full((num_imgs, num_points), -1))

        # (B,) image of each box, and index of its image's first box
        img_of_box = torch.cat([
            torch.full((len(img_boxes), ), img_idx, device=device)
            for img_idx, img_boxes in enumerate(batch_gt_bboxes)
        ])
        first_box = torch.searchsorted(img_of_box, img_of_box)
        levels = self._levels(points, strides, featmap_sizes)
        tables = (self._tables(levels, all_points, boxes.dtype)
                  if featmap_sizes is not None else None)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        # (B,) key of each box: its area's rank among the batch's areas
        # (equal areas, equal rank), then its index. The smallest key of a
        # point's candidates is mmdet's choice: smallest area, lowest index.
        sorted_areas = areas.sort()[0]
        rank = torch.searchsorted(sorted_areas, areas)
        no_box = num_boxes * num_boxes  # above every key
        # int32 halves the traffic of the per-pair keys where they fit
        key_dtype = torch.int32 if no_box < 2**31 else torch.long
        box_key = (rank * num_boxes +
                   torch.arange(num_boxes, device=device)).to(key_dtype)
        best_key = torch.full((num_imgs * num_points, ), no_box,
                              dtype=key_dtype, device=device)
        num_cand = torch.zeros_like(best_key)
        # a negative label marks a padding box (prepare_ground_truth's):
        # never a candidate, not counted among the image's boxes
        box_valid = labels_of_box >= 0  # (B,)
        if featmap_sizes is None:
            cells_per_box = num_points
        else:  # the frame: L x Wr x Wc
            cells_per_box = tables.row_valid.numel() * tables.col_valid.size(1)
        per_chunk = max(1, self.max_pairs // max(cells_per_box, 1))
        for chunk_start in range(0, num_boxes, per_chunk):
            chunk = slice(chunk_start, chunk_start + per_chunk)
            offset = img_of_box[chunk] * num_points  # (b,) image in N * P
            if featmap_sizes is None:
                pairs = self._dense_pairs(levels, all_points, boxes[chunk],
                                          offset)
            else:
                pairs = [
                    self._grid_pairs(tables, all_points, boxes[chunk], offset)
                ]
            # flat index into (N * P) of each pair's point, and whether it
            # is a candidate of the box; (b, ...) each
            for flat, ok in pairs:
                ok = ok & box_valid[chunk].view((-1, ) + (1, ) *
                                                (ok.dim() - 1))
                key = torch.where(
                    ok, box_key[chunk].view((-1, ) + (1, ) * (ok.dim() - 1)),
                    no_box)
                flat = flat.view(-1)
                best_key.scatter_reduce_(0, flat, key.view(-1), 'amin')
                num_cand.scatter_add_(0, flat, ok.view(-1).to(key_dtype))

        best_key = best_key.view(num_imgs, num_points).long()
        best_box = best_key.remainder(num_boxes)  # (N, P)
        best_area = torch.where(
            best_key < no_box,
            sorted_areas[best_key.div(num_boxes, rounding_mode='floor').clamp(
                max=num_boxes - 1)], float('inf'))
        # mmdet: min over the image's boxes of (area if candidate else INF)
        # < INF; boxes of area > INF win only where every box is a candidate
        boxes_per_img = img_of_box.new_zeros(num_imgs).scatter_add_(
            0, img_of_box, box_valid.to(img_of_box.dtype))  # (N,)
        num_cand = num_cand.view(num_imgs, num_points)
        every_box = (num_cand == boxes_per_img[:, None]) & (num_cand > 0)
        fg = (best_area < INF) | (every_box & (best_area > INF))  # (N, P)
        box = boxes[best_box]  # (N, P, 4)
        xs, ys = all_points[:, 0], all_points[:, 1]
        # (N, P, 4), in ``dtype`` by type promotion
        bbox_targets = torch.stack(
            (xs - box[..., 0], ys - box[..., 1], box[..., 2] - xs,
             box[..., 3] - ys), -1)
        bbox_targets = torch.where(fg[..., None], bbox_targets, 0)
        labels = torch.where(fg, labels_of_box[best_box], num_classes)
        gt_inds = torch.where(fg, best_box - first_box[best_box], -1)
        return FCOSAssignResult(labels, bbox_targets, gt_inds)

    def _levels(self, points: List[Tensor], strides: Sequence[int],
                featmap_sizes: FeatmapSizes) -> List[_Level]:
        """Each level's geometry and window size, from host-known values."""
        levels = []
        start = 0
        for lvl, (level_points, stride) in enumerate(zip(points, strides)):
            low, high = self.regress_ranges[lvl]
            if featmap_sizes is None:
                rows, cols = 1, level_points.size(0)
                win_rows, win_cols = rows, cols
            else:
                rows, cols = featmap_sizes[lvl]
                bound = high
                if self.center_sampling:
                    bound = min(bound, 2 * self.center_sample_radius * stride)
                # candidates lie in (a, a + bound] along an axis: at most
                # bound / stride + 1 cells, plus one cell of margin per side
                cells = int(bound // stride) + 3 if bound < INF else None
                win_rows, win_cols = ((rows, cols) if cells is None else
                                      (min(rows, cells), min(cols, cells)))
            levels.append(
                _Level(start, rows, cols, win_rows, win_cols, stride, low,
                       high))
            start += level_points.size(0)
        return levels

    def _tables(self, levels: List[_Level], all_points: Tensor,
                box_dtype: torch.dtype) -> _Tables:
        """The grid layout's constant tables, from the cache or built now
        (always built under ``torch.compile``, where they are constants of
        the graph and a cache lookup would only add a guard that fails)."""
        device = all_points.device
        compiling = torch.compiler.is_compiling()
        key = (tuple(levels), self.center_sample_radius, device,
               all_points.dtype, box_dtype)
        tables = None if compiling else self._table_cache.get(key)
        if tables is not None:
            return tables
        last = max(all_points.size(0) - 1, 0)
        frame_rows = max(level.win_rows for level in levels)
        frame_cols = max(level.win_cols for level in levels)

        def per_level(value, dtype):  # (L, ...): value(level) per level
            return torch.tensor([value(level) for level in levels],
                                dtype=dtype, device=device)

        long, radius = torch.long, self.center_sample_radius
        tables = _Tables(
            radius=per_level(lambda level: level.stride * radius, box_dtype),
            high_box=per_level(lambda level: level.high, box_dtype),
            stride=per_level(lambda level: level.stride, box_dtype),
            first_point=per_level(lambda level: min(level.start, last), long),
            max_start=per_level(
                lambda level: (level.cols - level.win_cols,
                               level.rows - level.win_rows), long),
            col_valid=per_level(
                lambda level: [col < level.win_cols
                               for col in range(frame_cols)], torch.bool),
            row_valid=per_level(
                lambda level: [row < level.win_rows
                               for row in range(frame_rows)], torch.bool),
            last_col=per_level(lambda level: [level.cols - 1], long),
            last_row=per_level(lambda level: [level.rows - 1], long),
            row_len=per_level(lambda level: [level.cols], long),
            low=per_level(lambda level: [level.low], all_points.dtype),
            high=per_level(lambda level: [level.high], all_points.dtype))
        if compiling:
            return tables
        if len(self._table_cache) >= 64:
            self._table_cache.pop(next(iter(self._table_cache)))
        self._table_cache[key] = tables
        return tables

    def _grid_pairs(self, tables: _Tables, all_points: Tensor, boxes: Tensor,
                    point_offset: Tensor) -> Tuple[Tensor, Tensor]:
        """mmdet's exact test on every (box, window cell) pair: ``(b, L, Wr,
        Wc)`` index in ``N * P`` of each pair's point (``point_offset``:
        ``(b,)`` start of the box's image) and whether it is a candidate.

        ``low <= max(m_x, m_y) <= high`` (``m_x = max(l, r)``, ``m_y =
        max(t, b)``) iff both are ``<= high`` and either is ``>= low``; so
        columns and rows get a :meth:`_code` in {0, 1, 2} and a cell is a
        candidate iff ``code_x * code_y >= 2``.
        """
        region = self._regions(boxes, tables.radius)  # (b, L, 4)
        cols, rows = self._windows(tables, all_points[tables.first_point],
                                   boxes, region)  # (b, L, Wc), (b, L, Wr)
        # a level's first row holds its xs, its first column its ys
        level_start = tables.first_point[:, None]  # (L, 1)
        row_points = level_start + rows * tables.row_len  # (b, L, Wr)
        xs = all_points[level_start + cols, 0]  # (b, L, Wc)
        ys = all_points[row_points, 1]  # (b, L, Wr)
        x1, y1, x2, y2 = boxes[:, None, None].unbind(-1)  # (b, 1, 1) each
        left, right = xs - x1, x2 - xs
        top, bottom = ys - y1, y2 - ys
        if self.center_sampling:
            rx1, ry1, rx2, ry2 = region[..., None].unbind(-2)  # (b, L, 1)
            inside_x = (xs - rx1 > 0) & (rx2 - xs > 0)
            inside_y = (ys - ry1 > 0) & (ry2 - ys > 0)
        else:
            inside_x = (left > 0) & (right > 0)
            inside_y = (top > 0) & (bottom > 0)
        code_x = self._code(inside_x & tables.col_valid,
                            torch.maximum(left, right), tables)
        code_y = self._code(inside_y & tables.row_valid,
                            torch.maximum(top, bottom), tables)
        ok = code_y[..., :, None] * code_x[..., None, :] >= 2
        row_points = row_points + point_offset[:, None, None]
        return row_points[..., :, None] + cols[..., None, :], ok

    @staticmethod
    def _code(inside: Tensor, max_dist: Tensor, tables: _Tables) -> Tensor:
        """``inside * (max_dist <= high) * (1 + (max_dist >= low))``: 0
        fails, 1 passes but is below ``low``, 2 passes in range."""
        return (((max_dist >= tables.low) + 1) *
                (inside & (max_dist <= tables.high))).to(torch.uint8)

    def _dense_pairs(self, levels: List[_Level], all_points: Tensor,
                     boxes: Tensor,
                     point_offset: Tensor) -> List[Tuple[Tensor, Tensor]]:
        """:meth:`_grid_pairs` without a grid: every (box, point) pair, per
        level ``(b, H_l * W_l)`` point indices and candidate flags."""
        x1, y1, x2, y2 = boxes[:, :, None].unbind(1)  # (b, 1) each
        radius = torch.tensor([level.stride * self.center_sample_radius
                               for level in levels], dtype=boxes.dtype)
        regions = self._regions(boxes, radius.to(boxes.device))
        pairs = []
        for lvl, level in enumerate(levels):
            points = all_points[level.start:level.start + level.cols]
            xs, ys = points[:, 0], points[:, 1]  # (n,)
            ltrb = torch.stack((xs - x1, ys - y1, x2 - xs, y2 - ys), -1)
            rx1, ry1, rx2, ry2 = regions[:, lvl, :, None].unbind(1)
            inside = torch.stack((xs - rx1, ys - ry1, rx2 - xs, ry2 - ys),
                                 -1).amin(-1) > 0
            # a Python number is compared in the tensor's dtype
            max_dist = ltrb.amax(-1)
            ok = inside & (max_dist >= level.low) & (max_dist <= level.high)
            index = torch.arange(level.start, level.start + level.cols,
                                 device=all_points.device)
            pairs.append((index + point_offset[:, None], ok))
        return pairs

    def _regions(self, boxes: Tensor, radius: Tensor) -> Tensor:
        """``(b, L, 4)`` region a candidate lies strictly inside: the box,
        or its centre region (``(L,)`` ``radius``) clipped to the box."""
        if not self.center_sampling:
            return boxes[:, None].expand(-1, radius.numel(), -1)
        x1, y1, x2, y2 = boxes[:, :, None].unbind(1)  # (b, 1) each
        cx = (x1 + x2) / 2
        cy = (y1 + y2) / 2
        return torch.stack(
            (torch.where(cx - radius > x1, cx - radius, x1),
             torch.where(cy - radius > y1, cy - radius, y1),
             torch.where(cx + radius > x2, x2, cx + radius),
             torch.where(cy + radius > y2, y2, cy + radius)), -1)

    @staticmethod
    def _windows(tables: _Tables, origin: Tensor, boxes: Tensor,
                 region: Tensor) -> Tuple[Tensor, Tensor]:
        """``(b, L, Wc)`` columns and ``(b, L, Wr)`` rows of each box's
        windows: from one cell before the first that can pass, shifted to
        stay on the grid; padding repeats the level's last one."""
        # (b, L, 2): lowest coordinate that can pass, per level and axis
        first = torch.maximum(region[..., :2],
                              boxes[:, None, 2:] - tables.high_box[:, None])
        start = ((first - origin) / tables.stride[:, None]).floor()
        start = torch.minimum(start.long().clamp(min=0), tables.max_start)
        frame_rows, frame_cols = (tables.row_valid.size(1),
                                  tables.col_valid.size(1))
        device = start.device
        cols = start[..., :1] + torch.arange(frame_cols, device=device)
        rows = start[..., 1:] + torch.arange(frame_rows, device=device)
        return (torch.minimum(cols, tables.last_col),
                torch.minimum(rows, tables.last_row))

    def _check_levels(self, points: List[Tensor], strides: Sequence[int],
                      featmap_sizes: FeatmapSizes) -> None:
        """Raise a ValueError naming the level of a bad shape or dtype."""
        if not len(points) == len(strides) == len(self.regress_ranges):
            raise ValueError(
                f'{type(self).__name__}: got {len(points)} point levels and '
                f'{len(strides)} strides but {len(self.regress_ranges)} '
                'regress_ranges')
        check_float_rows(points, 2, 'n', [
            f'points[{lvl}]' for lvl in range(len(points))])
        if featmap_sizes is None:
            return
        if len(featmap_sizes) != len(points):
            raise ValueError(f'{len(featmap_sizes)} featmap_sizes for '
                             f'{len(points)} point levels')
        for lvl, (level_points, (height, width)) in enumerate(
                zip(points, featmap_sizes)):
            if height * width != level_points.size(0):
                raise ValueError(
                    f'points[{lvl}] has {level_points.size(0)} points, not a '
                    f'{(height, width)} grid')
