# The FCOS 1x schedule: 12 epochs at 16 images per iteration (8 GPUs x 2),
# lr 0.01, constant warm-up at lr/3 for 500 iterations, lr x0.1 after epochs
# 8 and 11 (the paper; FCOS's own code warms up with a constant factor).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='ConstantLR', factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.),
    clip_grad=dict(max_norm=35, norm_type=2))

# lr 0.01 is for 16 images per iteration; `--auto-scale-lr` rescales it
# linearly to the real total batch size (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=16)
