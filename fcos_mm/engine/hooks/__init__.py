from .check_images_hook import CheckImagesHook
from .det_visualization_hook import DetVisualizationHook
from .progress_bar_hook import ProgressBarHook
from .skipped_images_hook import SkippedImagesHook

__all__ = [
    'CheckImagesHook', 'DetVisualizationHook', 'ProgressBarHook',
    'SkippedImagesHook'
]
