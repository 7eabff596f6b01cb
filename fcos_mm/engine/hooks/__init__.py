from .check_images_hook import CheckImagesHook
from .cpu_inference_hook import CPUInferenceHook
from .det_visualization_hook import DetVisualizationHook
from .progress_bar_hook import ProgressBarHook
from .skipped_images_hook import SkippedImagesHook

__all__ = [
    'CPUInferenceHook', 'CheckImagesHook', 'DetVisualizationHook',
    'ProgressBarHook', 'SkippedImagesHook'
]
