# Runtime settings shared by every fcos_mm config.
# Types resolve in our registry scope first: our classes (FCOSHead, the
# validating CocoDataset / LoadImageFromFile, ...) shadow mmdet's of the same
# name, everything else (ResNet, FPN, CocoMetric, ...) falls through to mmdet.
default_scope = 'fcos_mm'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # LoggerHook prints losses, lr, time and the ETA every `interval` iters.
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # fcos_mm's CheckpointHook: atomic saves, old ones removed after the new
    # one is written, never a NaN/inf checkpoint, --resume from the newest
    # valid one. Beside them, latest.pth every 30 minutes of training
    # (rolling_interval, seconds; or rolling_iters=N), replacing itself and
    # not counted in max_keep_ckpts: a kill -9 loses at most that much.
    checkpoint=dict(type='CheckpointHook', interval=1, rolling_interval=1800),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # Skip (on the device, no sync) each optimizer step with a NaN/inf loss
    # or gradient, name it in the log and nonfinite_steps.jsonl, stop after
    # max_consecutive in a row. Off: nonfinite_guard.enabled=False.
    nonfinite_guard=dict(type='NonFiniteGuardHook', max_consecutive=5))

# A per-batch progress bar with ETA while testing; before training, a check
# that every training image exists (decode=True decodes them all too); the
# log of images skipped by LoadImageFromFile(on_bad_image='skip')
# (fcos_mm.engine.hooks).
custom_hooks = [
    dict(type='ProgressBarHook'),
    dict(type='CheckImagesHook'),
    dict(type='SkippedImagesHook')
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; tools/train.py switches to gloo where CUDA is missing
    # (see fcos_mm.utils.dist.init_dist_env).
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
