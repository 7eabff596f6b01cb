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
    from fcos_mm.models.utils import fcos_mm_scope
    from fcos_mm.registry import DATASETS

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
