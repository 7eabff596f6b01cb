"""mmengine's ``OptimWrapper`` with the step guard."""
from mmengine.optim import OptimWrapper as MMEngineOptimWrapper

from fcos_mm.registry import OPTIM_WRAPPERS

from .step_guard import StepGuardMixin


@OPTIM_WRAPPERS.register_module()
class OptimWrapper(StepGuardMixin, MMEngineOptimWrapper):
    """mmengine's ``OptimWrapper`` (float32) plus the step guard of
    :mod:`~fcos_mm.engine.optim_wrappers.step_guard`.

    Registered under mmengine's name in scope ``fcos_mm``, so every config's
    ``optim_wrapper=dict(type='OptimWrapper', ...)`` gets it. The guard is
    off until :meth:`enable_step_guard` (``NonFiniteGuardHook`` turns it
    on); off, this is mmengine's wrapper unchanged.
    """
