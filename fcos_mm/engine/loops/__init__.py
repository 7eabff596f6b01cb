from .epoch_based_train_loop import EpochBasedTrainLoop
from .iter_based_train_loop import IterBasedTrainLoop
from .resumable_batches import (
    ResumableBatchSampler,
    SeededGetItems,
    SeededIndex,
    make_resumable,
    sample_seed,
)

__all__ = [
    'EpochBasedTrainLoop', 'IterBasedTrainLoop', 'ResumableBatchSampler',
    'SeededGetItems', 'SeededIndex', 'make_resumable', 'sample_seed'
]
