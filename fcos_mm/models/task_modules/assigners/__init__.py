from .fcos_point_assigner import FCOSAssignResult, FCOSPointAssigner

__all__ = ['FCOSAssignResult', 'FCOSPointAssigner']
