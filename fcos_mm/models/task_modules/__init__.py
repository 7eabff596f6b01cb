from .assigners import FCOSAssignResult, FCOSPointAssigner
from .prior_grid import (
    candidate_mask,
    featmap_sizes,
    grid_points,
    level_of_point,
)

__all__ = [
    'FCOSAssignResult', 'FCOSPointAssigner', 'candidate_mask',
    'featmap_sizes', 'grid_points', 'level_of_point'
]
