from .errors import (
    CheckpointSaveError,
    NonFiniteCheckpointError,
    NonFiniteTrainingError,
    TrainingPreempted,
    TrainingStopped,
)
from .hooks import (
    CheckImagesHook,
    CheckpointHook,
    CPUInferenceHook,
    DetVisualizationHook,
    NonFiniteGuardHook,
    ProgressBarHook,
    SkippedImagesHook,
)
from .loops import EpochBasedTrainLoop, IterBasedTrainLoop
from .optim_wrappers import (
    AmpOptimWrapper,
    AutocastOptimWrapper,
    OptimWrapper,
)
from .runner_setup import (
    enable_amp,
    prepare_launch,
    setup_test_cfg,
    setup_train_cfg,
)

__all__ = [
    'AmpOptimWrapper', 'AutocastOptimWrapper', 'CPUInferenceHook',
    'CheckImagesHook', 'CheckpointHook', 'CheckpointSaveError',
    'DetVisualizationHook', 'EpochBasedTrainLoop', 'IterBasedTrainLoop',
    'NonFiniteCheckpointError', 'NonFiniteGuardHook',
    'NonFiniteTrainingError', 'OptimWrapper', 'ProgressBarHook',
    'SkippedImagesHook', 'TrainingPreempted', 'TrainingStopped',
    'enable_amp', 'prepare_launch', 'setup_test_cfg', 'setup_train_cfg'
]
