"""Regress ranges against a data set, before training: the training
assigner on the first training images' resized boxes, and a warning in the
data check's report (``tools/misc/check_dataset.py``) when most positive
locations fall on one level, with ranges that spread them."""
import itertools
import math
from typing import Dict, Optional, Sequence

from mmengine.config import Config

from fcos_mm.datasets.check_dataset import DatasetReport

#: Training images the level check reads (the first ones of the json).
LEVEL_CHECK_IMAGES = 500


def check_level_balance(cfg: Config,
                        reports: Sequence[DatasetReport],
                        max_images: int = LEVEL_CHECK_IMAGES,
                        max_share: Optional[float] = None) -> Optional[Dict]:
    """Warn, in the training set's report, when more than ``max_share``
    (default :data:`~fcos_mm.analysis.fcos_statistics.
    DOMINANT_LEVEL_SHARE`) of the positive locations fall on one level.

    The training assigner runs with the config's regress ranges on the
    first ``max_images`` training images, boxes resized by the config's
    pipeline (no random flips). Only for a model trained with an
    ``FCOSPointAssigner`` and a training set without errors; a data set that
    cannot be built is noted as ``info``. The warning names the level, its
    share and the proposal of
    :func:`~fcos_mm.analysis.fcos_statistics.propose_regress_ranges`
    as ``--cfg-options``.

    Args:
        cfg (Config): The config.
        reports (Sequence[DatasetReport]): the data check's reports;
            the one named ``train`` (or ``train/...``) gets the warning.
        max_images (int): Images read at most.
        max_share (float, optional): Share that triggers the warning.

    Returns:
        dict or None: ``level`` (e.g. ``'P7'``), ``share``, ``positives``
        and ``proposal`` (a ``RangeProposal``) when it warned, else None.
    """
    from .fcos_statistics import (
        DOMINANT_LEVEL_SHARE,
        AssignmentSetting,
        assigner_settings,
        compute_statistics,
        dominant_level,
        format_ranges,
        proposal_cfg_options,
        propose_regress_ranges,
        samples_from_dataset,
    )
    model = cfg.get('model') or {}
    assigner = (model.get('train_cfg') or {}).get('assigner') or {}
    loader = cfg.get('train_dataloader') or {}
    train = [r for r in reports if 'train' in r.name.split('/')]
    if (not train or train[0].count('error') or 'dataset' not in loader
            or 'FCOSPointAssigner' not in str(assigner.get('type', ''))):
        return None
    report = train[0]
    settings = assigner_settings(cfg)
    try:
        samples, num_classes = samples_from_dataset(loader['dataset'])
        samples = list(itertools.islice(samples, max_images))
    except Exception as e:  # the checks above report what is wrong
        report.add('info', 'positives per level not checked (the training '
                   'set cannot be built)', f'{type(e).__name__}: {e}')
        return None
    setting = AssignmentSetting(
        'config', settings['strides'], settings['regress_ranges'],
        settings['center_sampling'], settings['center_sample_radius'])
    stats = compute_statistics(samples, num_classes, [setting])['config']
    max_share = DOMINANT_LEVEL_SHARE if max_share is None else max_share
    dominant = dominant_level(stats, max_share)
    if dominant is None:
        return None
    level, share = dominant
    name = f'P{int(math.log2(settings["strides"][level]))}'
    proposal = propose_regress_ranges(
        samples,
        num_classes,
        settings['regress_ranges'],
        strides=settings['strides'],
        center_sampling=settings['center_sampling'],
        center_sample_radius=settings['center_sample_radius'])
    count = stats.positives_per_level[level]
    new_share = max(proposal.stats.positives_per_level) / max(
        1, proposal.stats.num_positives)
    report.add(
        'warning', 'most positive locations on one level (regress ranges '
        'that do not fit the resized boxes)',
        f'{name}: {count} of {stats.num_positives} ({100 * share:.0f}%) '
        f'with regress_ranges '
        f'{format_ranges(settings["regress_ranges"])}; ranges that fit '
        f'(fullest level {100 * new_share:.0f}%; tools/analysis_tools/'
        f'fcos_statistics.py --propose-ranges): --cfg-options '
        f'{proposal_cfg_options(proposal)}')
    return dict(
        level=name, share=share, positives=count, proposal=proposal)
