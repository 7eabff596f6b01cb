"""Skip by index loads no image; per-sample seeds make a sample's
augmentation independent of workers, persistence and skipped batches."""
import pickle
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fcos_mm.engine.loops import (
    ResumableBatchSampler,
    SeededIndex,
    make_resumable,
    sample_seed,
)


class RandomSamples(Dataset):
    """Sample i is (i, a draw of python's, numpy's and torch's generators),
    like a random augmentation; counts the samples it loaded."""

    def __init__(self, size=10):
        self.size = size
        self.loaded = []

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        self.loaded.append(int(index))
        return (int(index), random.random(), float(np.random.rand()),
                float(torch.rand(())))


def _loader(dataset, workers=0, persistent=False, seed=7):
    loader = DataLoader(
        dataset,
        batch_size=2,
        shuffle=False,
        num_workers=workers,
        persistent_workers=persistent,
        collate_fn=list)
    return loader, make_resumable(loader, seed)


def _samples(loader):
    return [sample for batch in loader for sample in batch]


def test_skip_drops_batches_by_index_without_loading_them():
    dataset = RandomSamples()
    loader, batches = _loader(dataset)
    assert isinstance(loader.batch_sampler, ResumableBatchSampler)
    assert len(loader) == 5
    batches.skip_next(3)
    assert [s[0] for s in _samples(loader)] == [6, 7, 8, 9]
    assert dataset.loaded == [6, 7, 8, 9]
    # one pass only: the next one is whole again
    assert [s[0] for s in _samples(loader)] == list(range(10))


@pytest.mark.parametrize('workers,persistent', [(0, False), (2, False),
                                                (2, True)])
def test_a_sample_draws_the_same_randomness_however_it_is_loaded(
        workers, persistent):
    reference, batches = _loader(RandomSamples())
    batches.epoch = 1
    whole = _samples(reference)
    loader, batches = _loader(RandomSamples(), workers, persistent)
    batches.epoch = 1
    batches.skip_next(2)
    assert _samples(loader) == whole[4:]
    # another epoch draws other values for the same index
    batches.epoch = 2
    assert [s[1:] for s in _samples(loader)] != [s[1:] for s in whole]


def test_seeds_come_from_seed_epoch_and_index():
    assert sample_seed(7, 1, 3) == sample_seed(7, 1, 3)
    seeds = {sample_seed(7, e, i) for e in range(3) for i in range(50)}
    assert len(seeds) == 150
    assert sample_seed(8, 1, 3) != sample_seed(7, 1, 3)


def test_the_main_process_random_stream_is_left_alone():
    # loading every sample draws nothing from the main process's generators
    # (the DataLoader itself draws the workers' base seed from torch's)
    after = []
    for load in (True, False):
        loader, _ = _loader(RandomSamples())
        torch.manual_seed(0)
        np.random.seed(0)
        random.seed(0)
        if load:
            _samples(loader)
        else:
            iter(loader)
        after.append(
            (random.random(), np.random.rand(), float(torch.rand(()))))
    assert after[0] == after[1]


def test_without_a_seed_indices_are_plain_and_randomness_untouched():
    dataset = RandomSamples()
    loader, batches = _loader(dataset, seed=None)
    assert [type(i) for i in next(iter(batches))] == [int, int]
    assert '__getitems__' not in vars(dataset)
    torch.manual_seed(0)
    first = _samples(loader)
    torch.manual_seed(0)
    torch.empty((), dtype=torch.int64).random_()  # the DataLoader's draw
    assert [s[3] for s in first] == [float(torch.rand(())) for _ in range(10)]


def test_seeded_index_is_an_int_that_survives_pickling():
    index = SeededIndex(5, 1234)
    again = pickle.loads(pickle.dumps(index))
    assert again == 5 and again.seed == 1234 and isinstance(again, int)
    assert [10, 11, 12, 13, 14, 15][again] == 15


def test_a_loader_without_batches_is_refused():
    loader = DataLoader(RandomSamples(), batch_size=None)
    with pytest.raises(TypeError, match='train_dataloader.batch_size'):
        make_resumable(loader, 0)
