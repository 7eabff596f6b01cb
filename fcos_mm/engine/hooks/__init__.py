from .check_images_hook import CheckImagesHook
from .checkpoint_classes_hook import CheckpointClassesHook
from .checkpoint_hook import CheckpointHook
from .cpu_inference_hook import CPUInferenceHook
from .det_visualization_hook import DetVisualizationHook
from .nonfinite_guard_hook import NonFiniteGuardHook
from .progress_bar_hook import ProgressBarHook
from .runtime_info_hook import RuntimeInfoHook
from .skipped_images_hook import SkippedImagesHook

__all__ = [
    'CPUInferenceHook', 'CheckImagesHook', 'CheckpointClassesHook',
    'CheckpointHook', 'DetVisualizationHook', 'NonFiniteGuardHook',
    'ProgressBarHook', 'RuntimeInfoHook', 'SkippedImagesHook'
]
