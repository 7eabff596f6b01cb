from .progress_bar_hook import ProgressBarHook
from .skipped_images_hook import SkippedImagesHook

__all__ = ['ProgressBarHook', 'SkippedImagesHook']
