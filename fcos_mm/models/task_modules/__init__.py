from .assigners import FCOSAssignResult, FCOSPointAssigner

__all__ = ['FCOSAssignResult', 'FCOSPointAssigner']
