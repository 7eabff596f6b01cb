from .inference import build_test_pipeline, inference_detector, init_detector
from .visualization import (
                            build_visualizer,
                            detections_above,
                            draw_detections,
                            list_images,
)

__all__ = [
    'build_test_pipeline', 'build_visualizer', 'detections_above',
    'draw_detections', 'inference_detector', 'init_detector', 'list_images'
]
