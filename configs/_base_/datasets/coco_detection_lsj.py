# COCO 2017 with large-scale jitter (LSJ) for training: each image resized
# to 0.1x-2.0x of 1024 x 1024 (aspect kept), then a random 1024 x 1024 crop
# (boxes clipped, crops without boxes kept), then a flip. The transforms are
# mmdet's, reached through the registry. Batches are padded to 1024 x 1024
# by the model's data_preprocessor (BatchFixedSizePad). The training set is
# repeated 8 times per epoch, so the 25 epochs of schedule_lsj_200e.py are
# 200 passes over COCO. Validation and test as coco_detection.py.
_base_ = './coco_detection.py'

image_size = (1024, 1024)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    # every crop is 1024 x 1024: no aspect-ratio grouping
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=8,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args={{_base_.backend_args}})))
