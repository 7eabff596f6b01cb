"""mmengine's ``AmpOptimWrapper`` (CUDA float16 with a loss scaler) with the
step guard."""
import torch
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper

from fcos_mm.registry import OPTIM_WRAPPERS

from .step_guard import StepGuardMixin


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(StepGuardMixin, MMEngineAmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` plus the step guard.

    ``GradScaler`` already skips a step whose float16 gradients overflowed
    (and lowers the scale), silently. With the guard on, our own skip flag
    (a non-finite loss, or non-finite unscaled gradients) is OR-ed into the
    scaler's ``found_inf`` so the scaler skips those steps too, and each
    step's record says whether it was an fp16 overflow (expected now and
    then with a dynamic scale; counted apart, never a reason to stop) and
    the loss scale.
    """

    def _unscale_gradients(self) -> None:
        self.loss_scaler.unscale_(self.optimizer)

    def _gated_optimizer_step(self, skip: torch.Tensor, params,
                              **kwargs):
        scaler = self.loss_scaler
        found = scaler._per_optimizer_states[id(
            self.optimizer)]['found_inf_per_device']
        overflow = torch.stack([
            flag.to(skip.device) > 0 for flag in found.values()
        ]).any() if found else torch.zeros_like(skip)
        for flag in found.values():
            flag.copy_(torch.maximum(flag, skip.to(flag)))
        scale = scaler._get_scale_async().clone() if scaler.is_enabled() \
            else 1.0
        scaler.step(self.optimizer, **kwargs)
        scaler.update(self._scale_update_param)
        return overflow, scale
