"""Check a loaded checkpoint's class count against the model."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from fcos_mm.registry import HOOKS
from fcos_mm.utils.checkpoint import (
    check_checkpoint_classes,
    reinit_mismatched_weights,
)

ON_MISMATCH = ('raise', 'reinit')


@HOOKS.register_module()
class CheckpointClassesHook(Hook):
    """Compare each checkpoint the Runner loads with the model before the
    weights are copied (``after_load_checkpoint``).

    ``tools/test.py`` adds it with ``on_mismatch='raise'``: a checkpoint
    trained for another number of classes is a :class:`ValueError` naming
    both counts and the fix, instead of mmengine's "size mismatch" print
    and a random classifier. ``tools/train.py`` adds it with ``'reinit'``:
    under ``load_from`` (fine-tuning) the tensors whose shape differs keep
    their initialisation, said in one log line (log file included) naming
    them and why; a ``resume`` of another shape is still an error.

    Args:
        on_mismatch (str): ``'raise'`` or ``'reinit'``. Defaults to
            ``'raise'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, on_mismatch: str = 'raise') -> None:
        if on_mismatch not in ON_MISMATCH:
            raise ValueError(f'on_mismatch must be one of {ON_MISMATCH}, '
                             f'not {on_mismatch!r}.')
        self.on_mismatch = on_mismatch

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Raise on, or re-initialise, the tensors of another shape."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        cfg = getattr(runner, 'cfg', None) or {}
        filename = cfg.get('load_from') or 'the checkpoint'
        if self.on_mismatch == 'raise' or cfg.get('resume'):
            check_checkpoint_classes(checkpoint, model, filename)
            return
        line = reinit_mismatched_weights(checkpoint, model, filename)
        if line is not None:
            print_log(line, logger='current')
