from .errors import (
    CheckpointSaveError,
    NonFiniteCheckpointError,
    NonFiniteTrainingError,
    TrainingPreempted,
    TrainingStopped,
)
from .hooks import (
    CheckImagesHook,
    CheckpointClassesHook,
    CheckpointHook,
    CPUInferenceHook,
    DetVisualizationHook,
    NonFiniteGuardHook,
    ProgressBarHook,
    RuntimeInfoHook,
    SkippedImagesHook,
)
from .loops import EpochBasedTrainLoop, IterBasedTrainLoop
from .optim_wrappers import (
    AmpOptimWrapper,
    AutocastOptimWrapper,
    DefaultOptimWrapperConstructor,
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
    'CheckImagesHook', 'CheckpointClassesHook', 'CheckpointHook',
    'CheckpointSaveError', 'DefaultOptimWrapperConstructor',
    'DetVisualizationHook', 'EpochBasedTrainLoop', 'IterBasedTrainLoop',
    'NonFiniteCheckpointError', 'NonFiniteGuardHook',
    'NonFiniteTrainingError', 'OptimWrapper', 'ProgressBarHook',
    'RuntimeInfoHook', 'SkippedImagesHook', 'TrainingPreempted',
    'TrainingStopped',
    'enable_amp', 'prepare_launch', 'setup_test_cfg', 'setup_train_cfg'
]
