from .cpu_inference_hook import CPUInferenceHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['CPUInferenceHook', 'ProgressBarHook']
