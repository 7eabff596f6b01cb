from .hooks import (
    CheckImagesHook,
    CPUInferenceHook,
    DetVisualizationHook,
    ProgressBarHook,
    SkippedImagesHook,
)
from .optim_wrappers import AutocastOptimWrapper
from .runner_setup import (
    enable_amp,
    prepare_launch,
    setup_test_cfg,
    setup_train_cfg,
)

__all__ = [
    'AutocastOptimWrapper', 'CPUInferenceHook', 'CheckImagesHook',
    'DetVisualizationHook', 'ProgressBarHook', 'SkippedImagesHook',
    'enable_amp', 'prepare_launch', 'setup_test_cfg', 'setup_train_cfg'
]
