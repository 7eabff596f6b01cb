# The LSJ 200e schedule: 25 epochs of the 8-times repeated training set of
# coco_detection_lsj.py, SGD with weight decay 4e-5, linear warm-up over
# 1000 iterations, lr x0.1 after epochs 22 and 24, a validation every 5
# epochs. lr 0.1 is for 64 images per iteration (8 GPUs x 8); a config sets
# its own.
_base_ = './schedule_1x.py'

max_epochs = 25
train_cfg = dict(max_epochs=max_epochs, val_interval=5)

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.067, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[22, 24],
        gamma=0.1)
]

optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.00004))

auto_scale_lr = dict(base_batch_size=64)
