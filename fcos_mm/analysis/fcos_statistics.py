"""FCOS's label assignment measured on a dataset: the paper's Tables 1, 2.

Tian et al., "FCOS" (ICCV 2019, arXiv:1904.01355), Sec. 4.1.1, ask whether
assigning labels to locations instead of anchors loses objects or confuses
them. From the annotations alone, this module runs **the assigner training
uses** (``FCOSPointAssigner``) on every image and counts:

* **Best possible recall (BPR)**, Table 1: the fraction of ground-truth boxes
  that keep at least one location *after* the assigner's tie-break (a
  location in several candidate boxes goes to the smallest).
* **Ambiguous samples**, Table 2: positive locations that are candidates of
  more than one box (inside it, or its centre region with centre sampling,
  and the box size fits the level); "different-class" counts those whose
  candidates span several classes. Both are ratios to all positives.
* **Positives per level**.

Each for P4 alone (stride 16, no range limit: "w/o FPN") and for P3-P7 with
the FCOS regress ranges ("w/ FPN"), with and without centre sampling.

The assigner's result says which box a location finally gets, not how many
competed for it: :func:`~fcos_mm.models.task_modules.prior_grid.candidate_mask`
recovers the candidates by assigning each box alone. Locations are the
training grid (:mod:`~fcos_mm.models.task_modules.prior_grid`), one image per
batch.
"""
import copy
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from fcos_mm.models.task_modules.assigners.fcos_point_assigner import (
    FCOS_REGRESS_RANGES as FPN_REGRESS_RANGES,
)
from fcos_mm.models.task_modules.assigners.fcos_point_assigner import (
    INF,
)
from fcos_mm.models.task_modules.prior_grid import (
    candidate_mask,
    featmap_sizes,
    grid_points,
    level_of_point,
)
from fcos_mm.registry import TASK_UTILS

FPN_STRIDES = (8, 16, 32, 64, 128)
NO_FPN_STRIDES = (16, )
NO_FPN_REGRESS_RANGES = ((-1, INF), )

#: An image: network input (height, width) before padding, its boxes
#: (G, 4) x1 y1 x2 y2 in input pixels, and their labels (G, ).
Sample = Tuple[Tuple[int, int], Tensor, Tensor]


@dataclass(frozen=True)
class AssignmentSetting:
    """One column of the paper's tables: which levels, which assigner.

    Args:
        name (str): Row name in the printed tables.
        strides (tuple[int]): Strides of the levels used.
        regress_ranges (tuple[tuple[float, float]]): One (min, max) range
            of regression distances per level.
        center_sampling (bool): Whether only the centre region of a box
            gives positives.
        center_sample_radius (float): Centre region half size in strides.
    """
    name: str
    strides: Tuple[int, ...]
    regress_ranges: Tuple[Tuple[float, float], ...]
    center_sampling: bool = False
    center_sample_radius: float = 1.5

    def build_assigner(self):
        """The training assigner (``FCOSPointAssigner``) for this setting."""
        return TASK_UTILS.build(
            dict(
                type='FCOSPointAssigner',
                regress_ranges=self.regress_ranges,
                center_sampling=self.center_sampling,
                center_sample_radius=self.center_sample_radius))


def paper_settings(
        center_sample_radius: float = 1.5,
        fpn_regress_ranges: Sequence[Tuple[float, float]] = FPN_REGRESS_RANGES
) -> List[AssignmentSetting]:
    """The four settings of Tables 1 and 2, in this order: P4 only, P4
    only + centre sampling, P3-P7, P3-P7 + centre sampling.

    Args:
        center_sample_radius (float): Radius for the centre-sampling rows.
            Defaults to 1.5.
        fpn_regress_ranges (Sequence[tuple]): Ranges of P3-P7. Defaults to
            the paper's (0, 64, 128, 256, 512, inf) split.
    """
    ranges = tuple(map(tuple, fpn_regress_ranges))
    settings = []
    for name, strides, regress_ranges in (
        ('P4 only (w/o FPN)', NO_FPN_STRIDES, NO_FPN_REGRESS_RANGES),
        ('P3-P7 (w/ FPN)', FPN_STRIDES, ranges)):
        for sampling in (False, True):
            settings.append(
                AssignmentSetting(
                    name=name + (' + center sampling' if sampling else ''),
                    strides=strides,
                    regress_ranges=regress_ranges,
                    center_sampling=sampling,
                    center_sample_radius=center_sample_radius))
    return settings


@dataclass
class AssignmentStatistics:
    """Counts behind one setting's row, summed over images (defined in the
    module docstring): boxes, those recalled, positive locations, the
    ambiguous ones (of different classes) and positives per level of
    ``strides``."""
    strides: Tuple[int, ...]
    num_gts: int = 0
    num_recalled: int = 0
    num_positives: int = 0
    num_ambiguous: int = 0
    num_ambiguous_diff: int = 0
    positives_per_level: List[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.positives_per_level:
            self.positives_per_level = [0] * len(self.strides)

    def add(self, other: 'AssignmentStatistics') -> None:
        """Add another image's (or dataset's) counts to these."""
        if tuple(other.strides) != tuple(self.strides):
            raise ValueError(f'Cannot add statistics of strides '
                             f'{other.strides} to those of {self.strides}.')
        for name in ('num_gts', 'num_recalled', 'num_positives',
                     'num_ambiguous', 'num_ambiguous_diff'):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.positives_per_level = [
            mine + theirs for mine, theirs in zip(self.positives_per_level,
                                                  other.positives_per_level)
        ]

    @property
    def bpr(self) -> float:
        """Best possible recall, in [0, 1] (nan without boxes)."""
        return _ratio(self.num_recalled, self.num_gts)

    @property
    def ambiguous_ratio(self) -> float:
        """Ambiguous positives / positives, in [0, 1]."""
        return _ratio(self.num_ambiguous, self.num_positives)

    @property
    def ambiguous_diff_ratio(self) -> float:
        """Different-class ambiguous positives / positives, in [0, 1]."""
        return _ratio(self.num_ambiguous_diff, self.num_positives)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float('nan')


def image_statistics(setting: AssignmentSetting,
                     img_shape: Tuple[int, int],
                     gt_bboxes: Tensor,
                     gt_labels: Tensor,
                     num_classes: int,
                     pad_size_divisor: int = 32,
                     assigner=None) -> AssignmentStatistics:
    """Counts of one image (a :data:`Sample`) under one setting;
    ``assigner``, prebuilt for ``setting``, saves rebuilding it per
    image."""
    stats = AssignmentStatistics(strides=tuple(setting.strides))
    gt_bboxes = torch.as_tensor(gt_bboxes, dtype=torch.float32).reshape(-1, 4)
    gt_labels = torch.as_tensor(gt_labels, dtype=torch.long).reshape(-1)
    if len(gt_bboxes) != len(gt_labels):
        raise ValueError(f'{len(gt_bboxes)} boxes but {len(gt_labels)} '
                         'labels.')
    stats.num_gts = len(gt_bboxes)
    if stats.num_gts == 0:
        return stats
    if assigner is None:
        assigner = setting.build_assigner()
    sizes = featmap_sizes(img_shape, setting.strides, pad_size_divisor)
    points = grid_points(sizes, setting.strides)
    result = assigner.assign(points, setting.strides, gt_bboxes, gt_labels,
                             num_classes, sizes)
    positive = result.gt_inds >= 0
    stats.num_positives = int(positive.sum())
    stats.num_recalled = int(result.gt_inds[positive].unique().numel())
    stats.positives_per_level = torch.bincount(
        level_of_point(points)[positive], minlength=len(points)).tolist()

    candidates = candidate_mask(assigner, points, setting.strides,
                                gt_bboxes, gt_labels, num_classes, sizes)
    candidates = candidates[positive]  # (num_pos, G)
    stats.num_ambiguous = int((candidates.sum(1) > 1).sum())
    # A location sees several classes when the smallest and largest label
    # among its candidates differ.
    labels = gt_labels[None].expand_as(candidates)
    lowest = torch.where(candidates, labels, num_classes).min(1).values
    highest = torch.where(candidates, labels, -1).max(1).values
    stats.num_ambiguous_diff = int((lowest != highest).sum())
    return stats


def compute_statistics(
        samples: Iterable[Sample],
        num_classes: int,
        settings: Optional[Sequence[AssignmentSetting]] = None,
        pad_size_divisor: int = 32) -> Dict[str, AssignmentStatistics]:
    """Tables 1 and 2's counts over a set of images.

    Args:
        samples (Iterable[tuple]): A :data:`Sample` per image.
        num_classes (int): Number of classes.
        settings (Sequence[AssignmentSetting], optional): Defaults to
            :func:`paper_settings`.
        pad_size_divisor (int): Padding of the input. Defaults to 32.

    Returns:
        dict[str, AssignmentStatistics]: Counts per setting name, in the
        order of ``settings``.
    """
    settings = list(settings) if settings is not None else paper_settings()
    assigners = [setting.build_assigner() for setting in settings]
    totals = {
        setting.name: AssignmentStatistics(strides=tuple(setting.strides))
        for setting in settings
    }
    for img_shape, gt_bboxes, gt_labels in samples:
        for setting, assigner in zip(settings, assigners):
            totals[setting.name].add(
                image_statistics(setting, img_shape, gt_bboxes, gt_labels,
                                 num_classes, pad_size_divisor, assigner))
    return totals


def samples_from_dataset(dataset_cfg: dict) -> Tuple[Iterator[Sample], int]:
    """An iterator of :data:`Sample` as training sees them and the number
    of classes, from a dataset config (e.g. ``train_dataloader.dataset``):
    its own pipeline runs without random flips, so boxes are resized like
    the network input."""
    from fcos_mm.registry import DATASETS, fcos_mm_scope

    dataset_cfg = copy.deepcopy(dataset_cfg)
    if 'pipeline' in dataset_cfg:
        # random flips change no box size, only make two runs differ
        dataset_cfg['pipeline'] = [
            transform for transform in dataset_cfg['pipeline']
            if 'RandomFlip' not in str(transform.get('type'))
        ]
    # The pipeline's transforms are built from the current default scope's
    # registry: ours, whatever scope the caller left.
    with fcos_mm_scope():
        dataset = DATASETS.build(dataset_cfg)
    num_classes = len(dataset.metainfo['classes'])

    def _samples() -> Iterator[Sample]:
        for index in range(len(dataset)):
            sample = dataset[index]['data_samples']
            bboxes = sample.gt_instances.bboxes
            bboxes = getattr(bboxes, 'tensor', bboxes)
            yield (tuple(sample.metainfo['img_shape'][:2]), bboxes,
                   sample.gt_instances.labels)

    return _samples(), num_classes


def format_tables(results: Dict[str, AssignmentStatistics]) -> str:
    """Tables 1 and 2 and positives per level of
    :func:`compute_statistics`'s result, as plain text."""
    name_width = max(len(name) for name in results) + 2
    lines = ['Table 1: best possible recall (BPR) of the assignment',
             f'{"setting":<{name_width}}{"gt boxes":>10}{"assigned":>10}'
             f'{"BPR (%)":>10}']
    for name, stats in results.items():
        lines.append(f'{name:<{name_width}}{stats.num_gts:>10d}'
                     f'{stats.num_recalled:>10d}{100 * stats.bpr:>10.2f}')
    lines += ['', 'Table 2: ambiguous positive locations (ratio to all '
              'positives)',
              f'{"setting":<{name_width}}{"positives":>10}{"amb.":>8}'
              f'{"amb. (%)":>10}{"diff.":>8}{"diff. (%)":>11}']
    for name, stats in results.items():
        lines.append(f'{name:<{name_width}}{stats.num_positives:>10d}'
                     f'{stats.num_ambiguous:>8d}'
                     f'{100 * stats.ambiguous_ratio:>10.2f}'
                     f'{stats.num_ambiguous_diff:>8d}'
                     f'{100 * stats.ambiguous_diff_ratio:>11.2f}')
    lines += ['', 'Positive locations per level']
    for name, stats in results.items():
        levels = ', '.join(
            f'P{int(math.log2(stride))}: {count}' for stride, count in zip(
                stats.strides, stats.positives_per_level))
        lines.append(f'{name:<{name_width}}{levels}')
    return '\n'.join(lines)


# -- regress ranges that fit a data set ------------------------------------
#
# The paper's ranges are a ladder tied to the strides: P3-P6 end at
# 64, 128, 256, 512 = 8 x their stride, so on every level a box's centre
# regresses 4-8 strides (what ``norm_on_bbox`` divides by), and the shared
# head sees one target scale on all levels. They were made for 800 x 1333
# inputs; on smaller inputs (or with large objects) most boxes fall past the
# last boundary and one level takes nearly every positive. A proposal keeps
# the ladder (boundaries ``ratio x stride``, doubling per level) and picks
# the ``ratio`` that spreads the training positives over the levels.

#: The paper's boundary-to-stride ratio (64 / 8, ..., 512 / 64).
PAPER_RANGE_RATIO = 8.0
#: Ratios tried by :func:`propose_regress_ranges`: 1 to 8 in quarter
#: octaves. Above 8 boxes only move to finer levels than the paper's; below
#: 1 a box's centre regresses under a stride on its level.
PROPOSAL_RATIOS = tuple(2.0**(step / 4) for step in range(13))
#: Share of all positives on one level above which the data check warns.
DOMINANT_LEVEL_SHARE = 0.5


def ladder_ranges(strides: Sequence[int],
                  ratio: float) -> Tuple[Tuple[float, float], ...]:
    """Regress ranges whose boundaries are ``ratio x stride`` of every level
    but the last, rounded to whole pixels: ``ratio=8`` gives the paper's
    ``((-1, 64), (64, 128), (128, 256), (256, 512), (512, INF))`` for
    strides 8-128, ``ratio=1.5`` the CPU demo's 12, 24, 48, 96."""
    bounds = [int(round(ratio * stride)) for stride in strides[:-1]]
    lows = [-1] + bounds
    highs = bounds + [INF]
    return tuple(zip(lows, highs))


def level_shares(stats: AssignmentStatistics) -> List[float]:
    """Each level's fraction of all positive locations (zeros without
    positives)."""
    total = sum(stats.positives_per_level)
    return [count / total if total else 0.0
            for count in stats.positives_per_level]


def dominant_level(stats: AssignmentStatistics,
                   max_share: float = DOMINANT_LEVEL_SHARE
                   ) -> Optional[Tuple[int, float]]:
    """``(level index, share)`` of the level holding more than
    ``max_share`` of the positives, else None."""
    shares = level_shares(stats)
    if not shares:
        return None
    level = max(range(len(shares)), key=shares.__getitem__)
    return (level, shares[level]) if shares[level] > max_share else None


def proposal_radius(ratio: float, paper_radius: float = 1.5) -> float:
    """The centre-sampling radius (in strides) to use with ``ratio``.

    On its level a box's half-size is at least ``ratio / 2`` strides, so a
    region of the paper's 1.5 strides is the box itself once ``ratio < 3``:
    the radius shrinks to ``ratio / 2`` (in quarter strides) to keep
    sampling the centre, but not under 1 stride, below which a region of a
    box holds a single grid point or none.
    """
    return max(1.0, min(paper_radius, math.floor(ratio / 2 * 4) / 4))


@dataclass
class RangeProposal:
    """What :func:`propose_regress_ranges` found.

    Attributes:
        ratio (float): Boundary-to-stride ratio of the proposal.
        regress_ranges (tuple): The proposed ranges, one per level.
        center_sample_radius (float): The proposed radius.
        stats (AssignmentStatistics): Counts under the proposal.
        current_ranges (tuple): The ranges it was compared with.
        current_stats (AssignmentStatistics): Counts under those.
        tried (list[tuple[float, float, float]]): ``(ratio, largest level
            share, BPR)`` of every ratio tried.
    """
    ratio: float
    regress_ranges: Tuple[Tuple[float, float], ...]
    center_sample_radius: float
    stats: AssignmentStatistics
    current_ranges: Tuple[Tuple[float, float], ...]
    current_stats: AssignmentStatistics
    tried: List[Tuple[float, float, float]] = field(default_factory=list)


def propose_regress_ranges(samples: Iterable[Sample],
                           num_classes: int,
                           current_ranges: Sequence[Tuple[float, float]],
                           strides: Sequence[int] = FPN_STRIDES,
                           center_sampling: bool = True,
                           center_sample_radius: float = 1.5,
                           ratios: Sequence[float] = PROPOSAL_RATIOS,
                           tolerance: float = 0.05,
                           pad_size_divisor: int = 32) -> RangeProposal:
    """Propose regress ranges (and a centre-sampling radius) that spread
    the positives of ``samples`` over the levels.

    Every ratio of ``ratios`` gives :func:`ladder_ranges`; the training
    assigner runs on all samples for each. Kept are the ratios whose best
    possible recall is within 0.5 % of the best and whose fullest level
    holds at most ``tolerance`` more of the positives than the least full
    of them; among those the largest ratio wins (closest to the paper's 8:
    more cells per box on its level). The radius is
    :func:`proposal_radius`, capped at ``center_sample_radius``.

    Args:
        samples (Iterable[tuple]): A :data:`Sample` per training image
            (:func:`samples_from_dataset`); read once.
        num_classes (int): Number of classes.
        current_ranges (Sequence[tuple]): The config's ranges, counted for
            comparison.
        strides (Sequence[int]): Strides of the head's levels.
        center_sampling (bool): Whether the config samples centres.
        center_sample_radius (float): The config's radius.
        ratios (Sequence[float]): Boundary-to-stride ratios to try.
        tolerance (float): Slack on the fullest level's share.
        pad_size_divisor (int): Padding of the input. Defaults to 32.

    Returns:
        RangeProposal: The proposal and the counts behind it.
    """
    samples = list(samples)
    strides = tuple(strides)

    def count(name: str, ranges, radius: float) -> AssignmentStatistics:
        setting = AssignmentSetting(name, strides, tuple(map(tuple, ranges)),
                                    center_sampling, radius)
        return compute_statistics(samples, num_classes, [setting],
                                  pad_size_divisor)[name]

    tried = []
    for ratio in ratios:
        stats = count('ratio', ladder_ranges(strides, ratio),
                      center_sample_radius)
        tried.append((ratio, max(level_shares(stats), default=0.0),
                      stats.bpr))
    best_bpr = max(bpr for _, _, bpr in tried)
    fair = [entry for entry in tried if entry[2] >= best_bpr - 0.005]
    least_full = min(share for _, share, _ in fair)
    ratio = max(ratio for ratio, share, _ in fair
                if share <= least_full + tolerance)
    radius = center_sample_radius
    if center_sampling:
        radius = min(center_sample_radius, proposal_radius(ratio))
    ranges = ladder_ranges(strides, ratio)
    return RangeProposal(
        ratio=ratio,
        regress_ranges=ranges,
        center_sample_radius=radius,
        stats=count('proposal', ranges, radius),
        current_ranges=tuple(map(tuple, current_ranges)),
        current_stats=count('current', current_ranges, center_sample_radius),
        tried=tried)


def _format_range(value: float) -> str:
    return 'INF' if value >= INF else f'{value:g}'


def format_ranges(ranges: Sequence[Tuple[float, float]],
                  inf: str = 'INF') -> str:
    """``((-1, 26), ..., (205, INF))``, ``inf`` standing for :data:`INF`."""
    items = ', '.join(f'({_format_range(low)}, {_format_range(high)})'
                      for low, high in ranges)
    return f'({items})'.replace('INF', inf)


def format_levels(stats: AssignmentStatistics) -> str:
    """``P3: 12 (3%), P4: ...``: positives per level and their share."""
    shares = level_shares(stats)
    return ', '.join(
        f'P{int(math.log2(stride))}: {count} ({100 * share:.0f}%)'
        for stride, count, share in zip(stats.strides,
                                        stats.positives_per_level, shares))


def proposal_cfg_options(proposal: RangeProposal) -> str:
    """The proposal as ``tools/train.py --cfg-options`` arguments (quoted
    for a POSIX shell)."""
    ranges = format_ranges(proposal.regress_ranges, inf=f'{INF:g}')
    return (f'"model.train_cfg.assigner.regress_ranges='
            f'{ranges.replace(" ", "")}" '
            f'model.train_cfg.assigner.center_sample_radius='
            f'{proposal.center_sample_radius:g}')


def assigner_settings(cfg) -> Dict:
    """The training assigner's ``regress_ranges``, ``center_sampling``,
    ``center_sample_radius`` and the head's ``strides`` from a config
    (``FCOSPointAssigner``'s and ``FCOSHead``'s defaults for what it does
    not set)."""
    model = cfg.get('model') or {}
    assigner = (model.get('train_cfg') or {}).get('assigner') or {}
    head = model.get('bbox_head') or {}
    return dict(
        regress_ranges=tuple(
            tuple(r) for r in assigner.get('regress_ranges',
                                           FPN_REGRESS_RANGES)),
        center_sampling=bool(assigner.get('center_sampling', False)),
        center_sample_radius=float(assigner.get('center_sample_radius', 1.5)),
        strides=tuple(head.get('strides', FPN_STRIDES)))


def format_proposal(proposal: RangeProposal) -> str:
    """The comparison and the proposal as a config snippet and as
    ``--cfg-options``."""
    current, new = proposal.current_stats, proposal.stats
    lines = [
        f'current regress ranges {format_ranges(proposal.current_ranges)}:',
        f'  positives {current.num_positives}, BPR '
        f'{100 * current.bpr:.2f}%; {format_levels(current)}',
        f'proposed (boundaries {proposal.ratio:.2f} x stride, centre '
        f'sampling radius {proposal.center_sample_radius:g}):',
        f'  positives {new.num_positives}, BPR {100 * new.bpr:.2f}%; '
        f'{format_levels(new)}',
        '',
        'In the config (INF = 1e8):',
        'model = dict(train_cfg=dict(assigner=dict(',
        f'    regress_ranges={format_ranges(proposal.regress_ranges)},',
        f'    center_sample_radius={proposal.center_sample_radius:g})))',
        'or on the command line of tools/train.py:',
        f'  --cfg-options {proposal_cfg_options(proposal)}',
    ]
    return '\n'.join(lines)
