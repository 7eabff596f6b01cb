from .check_images_hook import CheckImagesHook
from .progress_bar_hook import ProgressBarHook
from .skipped_images_hook import SkippedImagesHook

__all__ = ['CheckImagesHook', 'ProgressBarHook', 'SkippedImagesHook']
