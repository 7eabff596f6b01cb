from .misc import flatten_levels
from .scope import fcos_mm_scope

__all__ = ['fcos_mm_scope', 'flatten_levels']
