"""Prepare the model for fast CPU inference before the test loop."""
from typing import Iterable, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from fcos_mm.registry import HOOKS


@HOOKS.register_module()
class CPUInferenceHook(Hook):
    """:func:`fcos_mm.deployment.prepare_cpu_inference` once the checkpoint
    is loaded (``before_test``), then with ``compile``
    :func:`fcos_mm.deployment.compile_for_cpu`, logging its note;
    ``tools/test.py --amp`` / ``--compile`` add it on CPU.

    Args:
        amp (bool): Use bf16 where the CPU supports it. Defaults to True.
        flags (Iterable[str], optional): CPU flags to decide from instead
            of this CPU's. Defaults to None.
        compile (bool): Also ``torch.compile`` backbone, neck and head.
            Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, amp: bool = True,
                 flags: Optional[Iterable[str]] = None,
                 compile: bool = False) -> None:
        self.amp = amp
        self.compile = compile
        self.flags = None if flags is None else list(flags)
        self.note: Optional[str] = None

    def before_test(self, runner) -> None:
        """Prepare ``runner.model`` (unwrapped)."""
        from fcos_mm.deployment import compile_for_cpu, prepare_cpu_inference

        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.note = prepare_cpu_inference(model, self.amp, self.flags)
        if self.compile:
            self.note += '; ' + compile_for_cpu(model)
        print_log(f'CPU inference: {self.note}', 'current')
