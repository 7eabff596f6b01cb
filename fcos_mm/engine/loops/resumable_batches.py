"""The data side of an exact resume: skip finished batches by index, and
give each sample randomness of its own.

:func:`make_resumable` puts a :class:`ResumableBatchSampler` in front of a
DataLoader's batch sampler and a :class:`SeededGetItems` on its dataset:

- **Skip by index.** :meth:`ResumableBatchSampler.skip_next` drops the
  first N batches of the next pass. The batch sampler yields index lists in
  the main process, so the skipped batches cost an iteration over integers:
  no image is read or transformed, with or without workers, whatever
  batch sampler the config has (``AspectRatioBatchSampler`` included).
  mmengine's iteration-based resume instead loads and throws away every
  finished batch.
- **Per-sample seeds.** Each index travels to the worker as a
  :class:`SeededIndex`, an ``int`` carrying the seed
  :func:`sample_seed` derives from (run seed, epoch, index). The dataset
  fetches each sample with python's, numpy's and torch's CPU generators set
  to that seed (:func:`seeded_rngs`, restored after), so a sample's
  augmentation depends on neither the worker that loads it nor the samples
  that worker loaded before: a run resumed mid-epoch, with fresh or
  persistent workers, or with another ``num_workers``, augments each sample
  exactly as an uninterrupted run does.
"""
import contextlib
import random
from typing import Iterator, List, Optional

import numpy as np
import torch


class SeededIndex(int):
    """A dataset index that carries the seed of its sample's randomness."""

    def __new__(cls, index: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):
        return (SeededIndex, (int(self), self.seed))


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed from (run seed, epoch, index), well mixed (numpy's
    ``SeedSequence``) so that neighbouring indices are unrelated."""
    entropy = [int(seed) % 2**32, int(epoch), int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Seed python's, numpy's and torch's CPU generators; restore them on
    exit (in the main process, with ``num_workers=0``, the training's own
    random stream must not see the data's)."""
    state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])


class SeededGetItems:
    """A dataset's ``__getitems__`` (what torch's fetcher calls for a
    batch): each :class:`SeededIndex` is fetched under its own seed."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __call__(self, indices: List[int]) -> list:
        samples = []
        for index in indices:
            seed = getattr(index, 'seed', None)
            if seed is None:
                samples.append(self.dataset[index])
                continue
            with seeded_rngs(seed):
                samples.append(self.dataset[int(index)])
        return samples


class ResumableBatchSampler:
    """Wraps a batch sampler: skips the first batches of a pass on request
    and turns indices into :class:`SeededIndex` (see the module docstring).

    Args:
        batch_sampler: The DataLoader's batch sampler.
        seed (int, optional): The run's seed; None yields plain indices
            (no per-sample seeds).
    """

    def __init__(self, batch_sampler, seed: Optional[int] = None) -> None:
        self.batch_sampler = batch_sampler
        self.seed = seed
        self.epoch = 0
        self._skip = 0

    def skip_next(self, batches: int) -> None:
        """Drop the first ``batches`` batches of the next pass only."""
        self._skip = max(int(batches), 0)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[list]:
        skip, self._skip = self._skip, 0
        epoch = self.epoch
        for position, batch in enumerate(self.batch_sampler):
            if position < skip:
                continue
            if self.seed is None:
                yield batch
            else:
                yield [
                    SeededIndex(index, sample_seed(self.seed, epoch, index))
                    for index in batch
                ]

    def __getattr__(self, name: str):
        # batch_size, drop_last, sampler, ... of the wrapped one
        if name == 'batch_sampler':
            raise AttributeError(name)
        return getattr(self.batch_sampler, name)


class _IgnoreStopSignals:
    """A worker_init_fn that first makes the worker ignore SIGTERM, SIGINT
    and SIGUSR1 (Slurm and Ctrl-C signal the whole process group; the main
    process stops the workers after its checkpoint), then runs the
    original."""

    def __init__(self, worker_init_fn) -> None:
        self.worker_init_fn = worker_init_fn

    def __call__(self, worker_id: int) -> None:
        import signal
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(signum, signal.SIG_IGN)
        if self.worker_init_fn is not None:
            self.worker_init_fn(worker_id)


def shutdown_workers(dataloader, iterator=None) -> None:
    """Stop the workers of a DataLoader's persistent iterator and of
    ``iterator`` (one ``iter(dataloader)`` gave) now. They ignore SIGTERM
    (:class:`_IgnoreStopSignals`), so they must not be left to
    ``multiprocessing``'s exit handler, which terminates and joins them:
    a run stopped by an error would never exit."""
    persistent = getattr(dataloader, '_iterator', None)
    for it in (persistent, iterator):
        if it is not None and hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
    if persistent is not None:
        dataloader._iterator = None


def make_resumable(dataloader,
                   seed: Optional[int] = None) -> ResumableBatchSampler:
    """Install :class:`ResumableBatchSampler` (and, with ``seed``,
    :class:`SeededGetItems`) on a DataLoader before its first iteration.

    Args:
        dataloader (torch.utils.data.DataLoader): A loader with a batch
            sampler (``batch_size`` set, or ``batch_sampler``).
        seed (int, optional): The run's seed for per-sample seeds; None
            keeps the data randomness as it is.

    Returns:
        ResumableBatchSampler: The installed wrapper.

    Raises:
        TypeError: The loader has no batch sampler (``batch_size=None``).
    """
    if dataloader.batch_sampler is None:
        raise TypeError(
            'A resumable training loop needs a DataLoader with batches: set '
            'train_dataloader.batch_size (or a batch_sampler).')
    if isinstance(dataloader.batch_sampler, ResumableBatchSampler):
        return dataloader.batch_sampler
    wrapper = ResumableBatchSampler(dataloader.batch_sampler, seed)
    # DataLoader refuses to set these after __init__ because a live
    # iterator would not see them; no iterator exists yet.
    object.__setattr__(dataloader, 'batch_sampler', wrapper)
    if seed is not None:
        dataloader.dataset.__getitems__ = SeededGetItems(dataloader.dataset)
    if dataloader.num_workers > 0:
        dataloader.worker_init_fn = _IgnoreStopSignals(
            dataloader.worker_init_fn)
    return wrapper
