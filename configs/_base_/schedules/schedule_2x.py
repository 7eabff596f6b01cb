# The FCOS 2x schedule: as 1x, 24 epochs, lr x0.1 after epochs 16 and 22.
_base_ = './schedule_1x.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)

param_scheduler = [
    dict(type='ConstantLR', factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]
