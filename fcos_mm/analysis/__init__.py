"""Tools' logic: assignment statistics (the paper's Tables 1 and 2), model
complexity, speed benchmark, training curves, the evaluation report (one
matching pass, FCOS diagnostics, HTML) and dataset browsing."""
from .benchmark import (
                        benchmark_detector,
                        benchmark_onnxruntime,
                        build_mmdet_fcos,
                        format_benchmark,
                        format_comparison,
                        merge_rounds,
                        mmdet_model_cfg,
                        run_stages,
)
from .browse_dataset import browse_dataset
from .complexity import count_parameters, model_complexity
from .eval_benchmark import benchmark_backends, benchmark_report
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
    'AssignmentSetting', 'AssignmentStatistics',
    'assign_levels', 'benchmark_backends', 'benchmark_detector',
    'benchmark_onnxruntime', 'benchmark_report', 'browse_dataset',
    'build_mmdet_fcos', 'candidate_mask',
    'compute_statistics', 'count_parameters', 'fcos_diagnostics',
    'featmap_sizes', 'format_benchmark', 'format_comparison',
    'format_tables', 'grid_points', 'image_statistics',
    'merge_rounds', 'mmdet_model_cfg',
    'model_complexity', 'paper_settings',
    'run_stages', 'samples_from_dataset'
]
