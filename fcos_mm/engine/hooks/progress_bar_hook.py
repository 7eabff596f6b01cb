"""A progress bar over the test (and optionally val) loop."""
import sys
from typing import IO, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from fcos_mm.registry import HOOKS
from fcos_mm.utils.progress import progress_bar


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Draw a progress bar with the ETA while the model tests (or validates).

    mmengine's LoggerHook logs a line every ``interval`` iterations; this bar
    moves on every batch. Only the main process draws, so a distributed test
    shows one bar (counting that process's batches). When ``file`` is not a
    terminal (a log, CI) it prints a line every ``every`` percent instead
    of redrawing (:func:`~fcos_mm.utils.progress.progress_bar`).

    Args:
        test (bool): Draw during the test loop. Defaults to True.
        val (bool): Draw during the validation loop too. Defaults to False:
            during training the bar would interleave with the train log.
        file (IO, optional): Where to draw. Defaults to ``sys.stdout``.
        every (float): Percent between two lines off a terminal.
            Defaults to 5.
    """

    priority = 'VERY_LOW'

    def __init__(self, test: bool = True, val: bool = False,
                 file: Optional[IO] = None, every: float = 5.0) -> None:
        self.test = test
        self.val = val
        self.file = file
        self.every = every
        self._bar = None

    def _start(self, enabled: bool, dataloader, loop: str) -> None:
        if enabled and is_main_process():
            self._bar = progress_bar(
                len(dataloader), self.file or sys.stdout, self.every,
                prefix=f'{loop} batches')

    def _update(self) -> None:
        if self._bar is not None:
            self._bar.update()
            # End the line with the last batch: the metric logs its own lines
            # before the loop's after_*_epoch hooks run.
            if self._bar.completed >= self._bar.task_num:
                self._finish()

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()
            self._bar = None

    def before_test_epoch(self, runner) -> None:
        self._start(self.test, runner.test_dataloader, 'test')

    def before_val_epoch(self, runner) -> None:
        self._start(self.val, runner.val_dataloader, 'val')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._update()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish()

    after_val_iter = after_test_iter
    after_val_epoch = after_test_epoch
