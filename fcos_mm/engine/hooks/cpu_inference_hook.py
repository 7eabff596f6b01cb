"""Prepare the model for fast CPU inference before the test loop."""
from typing import Iterable, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from fcos_mm.registry import HOOKS


@HOOKS.register_module()
class CPUInferenceHook(Hook):
    """:func:`fcos_mm.deployment.prepare_cpu_inference` once the checkpoint
    is loaded (``before_test``), logging its note; ``tools/test.py --amp``
    adds it on CPU.

    Args:
        amp (bool): Use bf16 where the CPU supports it. Defaults to True.
        flags (Iterable[str], optional): CPU flags to decide from instead
            of this CPU's. Defaults to None.
    """

    priority = 'VERY_HIGH'

    def __init__(self, amp: bool = True,
                 flags: Optional[Iterable[str]] = None) -> None:
        self.amp = amp
        self.flags = None if flags is None else list(flags)
        self.note: Optional[str] = None

    def before_test(self, runner) -> None:
        """Prepare ``runner.model`` (unwrapped)."""
        from fcos_mm.deployment import prepare_cpu_inference

        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.note = prepare_cpu_inference(model, self.amp, self.flags)
        print_log(f'CPU inference: {self.note}', 'current')
