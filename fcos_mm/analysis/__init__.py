"""Tools' logic: assignment statistics (the paper's Tables 1 and 2), model
complexity, speed benchmark and training curves."""
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
from .complexity import count_parameters, model_complexity
from .curves import Curves, load_curves, plot_curves

__all__ = [
    'AssignmentSetting', 'AssignmentStatistics', 'Curves',
    'benchmark_detector', 'benchmark_onnxruntime', 'build_mmdet_fcos',
    'candidate_mask', 'compute_statistics', 'count_parameters',
    'featmap_sizes', 'format_benchmark', 'format_comparison',
    'format_tables', 'grid_points', 'image_statistics', 'load_curves',
    'merge_rounds', 'mmdet_model_cfg', 'model_complexity', 'paper_settings',
    'plot_curves', 'run_stages', 'samples_from_dataset'
]
