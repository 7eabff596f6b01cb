from .amp_optim_wrapper import AmpOptimWrapper
from .autocast_optim_wrapper import (
    AutocastOptimWrapper,
    guard_narrow_strided_convs,
)
from .default_constructor import DefaultOptimWrapperConstructor
from .optim_wrapper import OptimWrapper
from .step_guard import (
    RECORD_FIELDS,
    StepGuardMixin,
    pack_record,
    unpack_records,
)

__all__ = [
    'AmpOptimWrapper', 'AutocastOptimWrapper',
    'DefaultOptimWrapperConstructor', 'OptimWrapper', 'RECORD_FIELDS',
    'StepGuardMixin', 'guard_narrow_strided_convs', 'pack_record',
    'unpack_records'
]
