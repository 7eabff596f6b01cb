"""Progress for loops over many items, fit for a terminal and for a log.

On a terminal, :func:`progress_bar` gives mmengine's ``ProgressBar`` (one
line redrawn with ``\\r``). Written to anything else (a log file, a pipe,
CI) a redrawn bar becomes one line per item, ~160 updates for 164 images;
there it gives :class:`LineProgress`, which prints a line every few
percent instead.
"""
import sys
import time
from typing import IO, Optional

from mmengine.utils import ProgressBar


class TerminalProgress(ProgressBar):
    """mmengine's bar; :meth:`finish` ends its line."""

    def finish(self) -> None:
        self.file.write('\n')
        self.file.flush()


class LineProgress:
    """A progress line each ``every`` percent (and at the end).

    Args:
        task_num (int): Items in all.
        file (IO): Where the lines go.
        every (float): Percent between two lines. Defaults to 5.
        prefix (str): Start of each line. Defaults to ``'progress'``.
    """

    def __init__(self, task_num: int, file: IO, every: float = 5.0,
                 prefix: str = 'progress') -> None:
        self.task_num = task_num
        self.file = file
        self.every = every
        self.prefix = prefix
        self.completed = 0
        self._next = every
        self._start = time.perf_counter()

    def update(self, num_tasks: int = 1) -> None:
        """Count ``num_tasks`` more items; print when a step is crossed."""
        self.completed += num_tasks
        if self.task_num <= 0:
            return
        percent = 100.0 * self.completed / self.task_num
        if percent + 1e-9 < self._next and self.completed < self.task_num:
            return
        while self._next <= percent + 1e-9:
            self._next += self.every
        elapsed = time.perf_counter() - self._start
        eta = (elapsed / self.completed * (self.task_num - self.completed)
               if self.completed else 0.0)
        self.file.write(f'{self.prefix}: {self.completed}/{self.task_num} '
                        f'({percent:.0f}%), {elapsed:.0f} s elapsed, ETA '
                        f'{eta:.0f} s\n')
        self.file.flush()

    def finish(self) -> None:
        """Nothing to end: every line is complete."""


def progress_bar(task_num: int, file: Optional[IO] = None,
                 every: float = 5.0, prefix: str = 'progress'):
    """A :class:`TerminalProgress` on a terminal, else a
    :class:`LineProgress`; both have ``update()``, ``finish()``,
    ``completed``, ``task_num`` and ``file``."""
    file = file if file is not None else sys.stdout
    isatty = getattr(file, 'isatty', None)
    if isatty is not None and isatty():
        return TerminalProgress(task_num, file=file)
    return LineProgress(task_num, file, every, prefix)
