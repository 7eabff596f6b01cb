from .ground_truth import (
    GT_CHECKED,
    check_float_rows,
    check_ground_truth,
    ground_truth_checked,
    gt_bucket,
    image_name,
    prepare_ground_truth,
)
from .misc import flatten_levels, select_candidates

__all__ = [
    'GT_CHECKED', 'check_float_rows', 'check_ground_truth',
    'flatten_levels', 'ground_truth_checked', 'gt_bucket', 'image_name',
    'prepare_ground_truth', 'select_candidates'
]
