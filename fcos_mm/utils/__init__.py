from .checkpoint import (UnsafeCheckpointError, load_safely,
                         register_safe_checkpoint_loader, safe_globals)
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'load_safely', 'register_all_modules',
    'register_safe_checkpoint_loader', 'safe_globals'
]
