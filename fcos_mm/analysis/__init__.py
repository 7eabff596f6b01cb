"""Tools' logic: assignment statistics (the paper's Tables 1 and 2), model
complexity, speed benchmark and checkpoint converters."""
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
from .checkpoint_converters import (
                                    UnknownKeysError,
                                    convert_mmdet_checkpoint,
                                    convert_mmdet_state_dict,
                                    convert_official_checkpoint,
                                    convert_official_state_dict,
                                    official_extra_convs_source,
)
from .complexity import count_parameters, model_complexity

__all__ = [
    'AssignmentSetting', 'AssignmentStatistics', 'UnknownKeysError',
    'benchmark_detector', 'benchmark_onnxruntime', 'build_mmdet_fcos',
    'candidate_mask', 'compute_statistics', 'convert_mmdet_checkpoint',
    'convert_mmdet_state_dict', 'convert_official_checkpoint',
    'convert_official_state_dict', 'count_parameters', 'featmap_sizes',
    'format_benchmark', 'format_comparison', 'format_tables',
    'grid_points', 'image_statistics', 'merge_rounds', 'mmdet_model_cfg',
    'model_complexity', 'official_extra_convs_source', 'paper_settings',
    'run_stages', 'samples_from_dataset'
]
