"""Stop signals: finish the iteration, agree across ranks, save, exit.

:class:`StopSignals` catches SIGTERM (Slurm at preemption or time limit,
Kubernetes, spot instances, torchrun forwarding its own), SIGINT (Ctrl-C)
and SIGUSR1 (Slurm's ``--signal=USR1@N`` warning). The handler only sets a
Python flag; the training loop polls :meth:`StopSignals.poll` after each
iteration:

- one process: the flag itself (free);
- several ranks: each rank starts an asynchronous all-reduce (MAX) of its
  flag on a side gloo group of CPU tensors after each iteration, and reads
  the result of the previous iteration's reduce (long finished): every rank
  reads the same value at the same iteration, so all stop together, one
  iteration after the first rank saw the signal. No device tensor and no
  host read of one is involved.

The loop then saves one checkpoint (``latest.pth``, atomically; see
:class:`~fcos_mm.engine.hooks.CheckpointHook`), logs what it saved and how
to resume, and raises :class:`~fcos_mm.engine.errors.TrainingPreempted`;
``tools/train.py`` exits with :data:`EXIT_CODES` (128 + the signal number,
the shell's convention for "ended by that signal"). A second signal while
stopping is only reported (the save goes on; an interrupted save would
leave the previous file anyway). Under Slurm, SIGUSR1 also requeues the job
(:func:`requeue_slurm_job`); the requeued job resumes by itself
(:func:`fcos_mm.engine.resume.auto_resume_reason`).
"""
import collections
import os
import signal
import subprocess
import threading
from typing import Deque, Dict, Optional, Tuple

import torch
import torch.distributed as torch_dist

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
EXIT_CODES: Dict[int, int] = {
    int(signum): 128 + int(signum)
    for signum in STOP_SIGNALS
}


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class StopSignals:
    """Catch the stop signals and say when all ranks should stop.

    Args:
        signals (tuple[int]): The signals to catch.
    """

    def __init__(self, signals: Tuple[int, ...] = STOP_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.received = 0  # the first signal number, 0 for none
        self._previous: Dict[int, object] = {}
        self._group = None
        self._pending: Deque[Tuple[object, torch.Tensor]] = \
            collections.deque()

    # -- installing ----------------------------------------------------------
    def install(self) -> bool:
        """Set the handlers (main thread only: Python allows no other) and,
        with several ranks, make the side group (a collective: every rank
        calls this at the same point). Returns whether handlers are set."""
        if torch_dist.is_available() and torch_dist.is_initialized() and (
                torch_dist.get_world_size() > 1):
            self._group = torch_dist.new_group(backend='gloo')
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return True

    def uninstall(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        for work, _ in self._pending:
            try:
                work.wait()
            except RuntimeError:  # a rank died: the error on its way wins
                break
        self._pending.clear()

    def _handle(self, signum: int, frame) -> None:
        # Only async-signal-safe work here: set the flag, write to stderr.
        name = signal_name(signum)
        if self.received:
            message = (f'fcos_mm: {name} received while already stopping '
                       f'for {signal_name(self.received)}; the checkpoint '
                       f'is being written, then the process exits.\n')
        else:
            self.received = signum
            message = (f'fcos_mm: {name} received; finishing the current '
                       f'iteration, then saving a checkpoint.\n')
        try:
            os.write(2, message.encode())
        except OSError:
            pass

    # -- polling -----------------------------------------------------------
    def poll(self) -> int:
        """The signal all ranks stop for now, 0 to go on (see the module
        docstring). Call it once per iteration on every rank."""
        if self._group is None:
            return self.received
        flag = torch.tensor([self.received], dtype=torch.int32)
        work = torch_dist.all_reduce(
            flag, op=torch_dist.ReduceOp.MAX, group=self._group,
            async_op=True)
        self._pending.append((work, flag))
        if len(self._pending) < 2:
            return 0
        work, flag = self._pending.popleft()
        work.wait()
        agreed = int(flag[0])
        if agreed and not self.received:
            self.received = agreed  # another rank got it
        return agreed

    def barrier(self) -> None:
        """Wait for every rank (after the save, so that no rank exits and
        makes the launcher kill the one still writing)."""
        if self._group is not None:
            for work, _ in self._pending:
                work.wait()
            self._pending.clear()
            torch_dist.barrier(group=self._group)


def requeue_slurm_job(env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """``scontrol requeue $SLURM_JOB_ID``; returns what happened, for the
    log, or None outside Slurm."""
    env = os.environ if env is None else env
    job = env.get('SLURM_ARRAY_JOB_ID') and env.get('SLURM_ARRAY_TASK_ID') \
        and f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}" \
        or env.get('SLURM_JOB_ID')
    if not job:
        return None
    try:
        done = subprocess.run(['scontrol', 'requeue', job],
                              capture_output=True,
                              text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return (f'could not requeue Slurm job {job} ({e}); resubmit it, it '
                f'resumes by itself with --resume')
    if done.returncode != 0:
        return (f'scontrol requeue {job} failed ({done.stderr.strip()}); '
                f'resubmit the job with --resume')
    return f'Slurm job {job} requeued (scontrol requeue {job})'


def save_and_stop(runner, stop_signals: StopSignals, signum: int, where: str,
                  iteration: int) -> None:
    """What a train loop does once :meth:`StopSignals.poll` says stop: save
    ``latest.pth`` after ``iteration`` iterations, wait for every rank,
    requeue on Slurm's SIGUSR1, log what happened and how to resume.

    Args:
        runner: The Runner.
        stop_signals (StopSignals): The loop's signals (for the barrier).
        signum (int): The agreed signal.
        where (str): The position for the log, e.g. ``'iteration 5 (epoch
            2, batch 2/3)'``.
        iteration (int): Iterations done.

    Raises:
        TrainingPreempted: Always, with :data:`EXIT_CODES` of ``signum``.
    """
    from mmengine.dist import is_main_process
    from mmengine.logging import print_log

    from .errors import TrainingPreempted
    from .hooks import CheckpointHook
    name = signal_name(signum)
    print_log(f'{name}: stopping after {where}; saving a checkpoint.',
              'current')
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)
    saved = None
    if hook is not None:
        saved = hook.save_latest(runner, iteration=iteration)
    stop_signals.barrier()
    lines = [f'Stopped by {name} after {where}.']
    if saved is None:
        lines.append('No checkpoint was written: default_hooks has no '
                     'fcos_mm CheckpointHook.')
    else:
        lines.append(
            f'Saved {saved}: model, optimizer, LR schedule, position in the '
            f'epoch and random states. Resume with: python tools/train.py '
            f'CONFIG --work-dir {runner.work_dir} --resume (it continues at '
            f'iteration {iteration + 1}, same data).')
    if signum == signal.SIGUSR1 and is_main_process():
        requeued = requeue_slurm_job()
        if requeued:
            lines.append(f'{requeued}; the requeued job resumes by itself.')
    code = EXIT_CODES[signum]
    lines.append(f'Exit code {code} (128 + {name}).')
    message = '\n'.join(lines)
    print_log(message, 'current')
    raise TrainingPreempted(message, code)
