"""The clock of ``fcos_mm``: the one place that reads ``time.perf_counter``
(progress bars aside).

The benchmarks' timing loop (:mod:`fcos_mm.benchmarks.harness`) reads it
through :func:`now`; the library times what it reports (the COCO
evaluation's seconds, the report's, a compile, a data check) with
:class:`Stopwatch`.
"""
import time
from typing import Callable, Optional


def now() -> float:
    """Seconds of a monotonic clock (an arbitrary origin)."""
    return time.perf_counter()


class Stopwatch:
    """Time a ``with`` block: ``watch.seconds`` once it has ended.

    Args:
        clock (callable, optional): Seconds now; :func:`now` by default
            (the benchmarks pass one that first waits for the GPU).
    """

    def __init__(self, clock: Optional[Callable[[], float]] = None) -> None:
        self.clock = clock or now
        self.seconds = 0.0
        self._start = 0.0

    def start(self) -> 'Stopwatch':
        """Start (again) now; returns itself."""
        self._start = self.clock()
        return self

    def __enter__(self) -> 'Stopwatch':
        return self.start()

    def __exit__(self, *exc_info) -> bool:
        self.seconds = self.clock() - self._start
        return False

    def elapsed(self) -> float:
        """Seconds since the block began (while it runs)."""
        return self.clock() - self._start
