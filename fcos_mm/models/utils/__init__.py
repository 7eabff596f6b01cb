from .ground_truth import check_float_rows, check_ground_truth, image_name
from .misc import flatten_levels, select_candidates
from .scope import fcos_mm_scope

__all__ = [
    'check_float_rows', 'check_ground_truth', 'fcos_mm_scope',
    'flatten_levels', 'image_name', 'select_candidates'
]
