"""Tools' logic: assignment statistics (the paper's Tables 1 and 2),
training curves, the evaluation report (one matching pass, FCOS
diagnostics, HTML) and dataset browsing."""
from .assignment_statistics import (
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
from .browse_dataset import browse_dataset
from .curves import Curves, load_curves, plot_curves
from .detection_analysis import EvalData, Matching, match_detections
from .eval_report import build_report, report_from_predictions, write_report
from .fcos_diagnostics import assign_levels, fcos_diagnostics

__all__ = [
    'AssignmentSetting', 'AssignmentStatistics', 'Curves', 'EvalData',
    'Matching', 'assign_levels', 'browse_dataset',
    'build_report', 'candidate_mask',
    'compute_statistics', 'fcos_diagnostics',
    'featmap_sizes',
    'format_tables', 'grid_points', 'image_statistics', 'load_curves',
    'match_detections', 'paper_settings', 'plot_curves',
    'report_from_predictions', 'samples_from_dataset',
    'write_report'
]
