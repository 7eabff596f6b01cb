"""A data set whose positives all fall on one level under its config's
ranges, for the regress-range tests (loaded by file path, as
tests/test_datasets' fixture modules are): one 64x64 image with the boxes
(8, 8, 24, 24) and (16, 16, 48, 48), a two-level head (strides 8, 16) and
the ranges ``((-1, 64), (64, INF))``; test_regress_range_proposal.py works
out the counts by hand."""
import json
import os
import os.path as osp

CONFIG = '''
default_scope = 'fcos_mm'
INF = 1e8
model = dict(
    bbox_head=dict(type='FCOSHead', strides=[8, 16]),
    train_cfg=dict(
        assigner=dict(
            type='FCOSPointAssigner',
            regress_ranges={ranges},
            center_sampling=True,
            center_sample_radius=1.5)))
train_dataloader = dict(
    dataset=dict(
        type='CocoDataset',
        data_root={root!r},
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=('thing', )),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ]))
'''
PAPER_RANGES = '((-1, 64), (64, INF))'


def write_two_box_set(root, cv2, np, ranges: str = PAPER_RANGES) -> str:
    """Write the image, its json and a config under ``root``; returns the
    config's path."""
    root = str(root)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    image = np.full((64, 64, 3), 90, np.uint8)
    cv2.rectangle(image, (8, 8), (23, 23), (200, 40, 40), -1)
    cv2.rectangle(image, (16, 16), (47, 47), (40, 40, 220), -1)
    cv2.imwrite(osp.join(root, 'images', 'a.jpg'), image)
    boxes = ([8, 8, 16, 16], [16, 16, 32, 32])
    with open(osp.join(root, 'annotations', 'train.json'), 'w') as f:
        json.dump(
            dict(
                images=[dict(id=1, file_name='a.jpg', width=64, height=64)],
                annotations=[
                    dict(id=i + 1, image_id=1, category_id=1, bbox=box,
                         area=box[2] * box[3], iscrowd=0)
                    for i, box in enumerate(boxes)
                ],
                categories=[dict(id=1, name='thing')]), f)
    path = osp.join(root, 'two_boxes.py')
    with open(path, 'w') as f:
        f.write(CONFIG.format(ranges=ranges, root=root + '/'))
    return path
