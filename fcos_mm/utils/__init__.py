from .checkpoint import (
    UnsafeCheckpointError,
    load_safely,
    register_safe_checkpoint_loader,
    safe_globals,
)
from .dist import cpu_model_wrapper_cfg, init_dist_env, launcher_env
from .pipeline import build_test_pipeline, get_test_pipeline_cfg
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'build_test_pipeline', 'cpu_model_wrapper_cfg',
    'get_test_pipeline_cfg', 'init_dist_env', 'launcher_env', 'load_safely',
    'register_all_modules', 'register_safe_checkpoint_loader', 'safe_globals'
]
