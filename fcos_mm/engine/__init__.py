from .hooks import CPUInferenceHook, ProgressBarHook
from .optim_wrappers import AutocastOptimWrapper
from .runner_setup import (
    enable_amp,
    prepare_launch,
    setup_test_cfg,
    setup_train_cfg,
)

__all__ = [
    'AutocastOptimWrapper', 'CPUInferenceHook', 'ProgressBarHook',
    'enable_amp', 'prepare_launch', 'setup_test_cfg', 'setup_train_cfg'
]
