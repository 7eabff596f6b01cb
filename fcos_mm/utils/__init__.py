from .checkpoint import (
    UnsafeCheckpointError,
    load_safely,
    register_safe_checkpoint_loader,
    safe_globals,
)
from .dist import cpu_model_wrapper_cfg, init_dist_env, launcher_env
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'cpu_model_wrapper_cfg', 'init_dist_env',
    'launcher_env', 'load_safely', 'register_all_modules',
    'register_safe_checkpoint_loader', 'safe_globals'
]
