"""The FCOS studies, each module named after its tool: fcos_statistics (the
paper's Tables 1 and 2, regress-range proposals), fcos_diagnostics (and its
report section), level_check (regress ranges against a data set, in
``tools/misc/check_dataset.py``), replay_batch. The data check itself is
:mod:`fcos_mm.datasets.check_dataset`; browsing a data set,
:mod:`fcos_mm.visualization.browse_dataset`."""
from .fcos_diagnostics import assign_levels, fcos_diagnostics
from .fcos_statistics import (
    AssignmentSetting,
    AssignmentStatistics,
    candidate_mask,
    compute_statistics,
    featmap_sizes,
    format_tables,
    grid_points,
    image_statistics,
    paper_settings,
    samples_from_dataset,
)

__all__ = [
    'AssignmentSetting', 'AssignmentStatistics', 'assign_levels',
    'candidate_mask', 'compute_statistics',
    'fcos_diagnostics', 'featmap_sizes', 'format_tables', 'grid_points',
    'image_statistics', 'paper_settings', 'samples_from_dataset'
]
