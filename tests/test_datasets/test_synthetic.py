import glob
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from pycocotools.coco import COCO

import fcos_mm.datasets.synthetic as synthetic
from fcos_mm.datasets.synthetic import (
    CLASSES,
    DEMO_REGRESS_RANGES,
    PALETTE,
    annotation_file,
    generate_image,
    generate_split,
    generate_synthetic_coco,
    shape_mask,
    side_ranges_for,
    split_is_complete,
)

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'demo')
NUM_IMAGES = 12


@pytest.fixture(scope='module')
def train_split(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic'))
    return root, generate_split(root, 'train', NUM_IMAGES, seed=0)


def load(ann_file):
    with open(ann_file) as f:
        return json.load(f)


def test_side_ranges_for():
    # 2 * lo < side <= 2 * hi, clipped to [16, 240]
    assert side_ranges_for(DEMO_REGRESS_RANGES) == [(16, 24), (25, 48),
                                                     (49, 96), (97, 192),
                                                     (193, 240)]
    assert side_ranges_for(((-1, 64), (64, 1e8)), 10, 300) == [(10, 128),
                                                                (129, 300)]
    with pytest.raises(ValueError, match=r'level 1 holds no box side'):
        side_ranges_for(((-1, 12), (12, 24)), max_side=24)


def test_shape_mask():
    # pixel centres at 0.5 .. 3.5; the ellipse's corners are outside
    # ((0.75^2 + 0.75^2 > 1), its edge middles inside (0.75^2 + 0.25^2 <= 1)
    np.testing.assert_array_equal(
        shape_mask('ellipse', 4, 4),
        [[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]])
    # |x - 2| <= y / 2 + 0.5: rows 0-1 hold x = 1.5, 2.5; rows 2-3 all
    np.testing.assert_array_equal(
        shape_mask('triangle', 4, 4),
        [[0, 1, 1, 0], [0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]])
    assert shape_mask('rectangle', 3, 2).all()
    # every shape touches all four sides of its box
    for shape in CLASSES:
        for w, h in ((16, 12), (7, 5), (33, 40)):
            mask = shape_mask(shape, w, h)
            assert mask.shape == (h, w)
            assert mask[0].any() and mask[-1].any()
            assert mask[:, 0].any() and mask[:, -1].any()
    with pytest.raises(ValueError, match="Unknown shape 'star'"):
        shape_mask('star', 4, 4)
    with pytest.raises(ValueError, match='0x4 box'):
        shape_mask('ellipse', 0, 4)


def test_generate_image_is_deterministic():
    img_a, objs_a = generate_image(3, 'train', 5)
    img_b, objs_b = generate_image(3, 'train', 5)
    np.testing.assert_array_equal(img_a, img_b)
    assert objs_a == objs_b
    img_val, _ = generate_image(3, 'val', 5)
    img_seed, _ = generate_image(4, 'train', 5)
    assert not np.array_equal(img_a, img_val)
    assert not np.array_equal(img_a, img_seed)


def test_generate_image_draws_the_classes():
    img, objects = generate_image(0, 'val', 0, noise_std=0)
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    # the last object is drawn on top: its centre has its class colour
    # (BGR), up to the +-25 colour jitter
    x, y, w, h = objects[-1]['bbox']
    centre = img[y + h * 3 // 4, x + w // 2].astype(int)
    rgb = np.array(PALETTE[objects[-1]['category_id'] - 1])
    assert np.abs(centre - rgb[::-1]).max() <= 26


def test_generate_image_errors():
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        generate_image(0, 'dev', 0)
    with pytest.raises(ValueError, match=r'\(193, 240\) of level 4 does not '
                       r'fit in a 200 px image'):
        generate_image(0, 'train', 0, img_size=200)
    with pytest.raises(ValueError, match='2 level weights for 5'):
        generate_image(0, 'train', 0, level_weights=(1, 1))


def test_split_is_valid_coco(train_split):
    root, ann_file = train_split
    assert ann_file == annotation_file(root, 'train')
    coco = COCO(ann_file)
    assert coco.getCatIds() == [1, 2, 3]
    assert [c['name'] for c in coco.loadCats([1, 2, 3])] == list(CLASSES)
    assert sorted(coco.getImgIds()) == list(range(1, NUM_IMAGES + 1))
    anns = coco.loadAnns(coco.getAnnIds())
    assert [a['id'] for a in anns] == list(range(1, len(anns) + 1))
    for ann in anns:
        img_info = coco.imgs[ann['image_id']]
        x, y, w, h = ann['bbox']
        assert ann['category_id'] in (1, 2, 3)
        assert ann['iscrowd'] == 0
        assert 0 <= x and 0 <= y and w >= 1 and h >= 1
        assert x + w <= img_info['width'] and y + h <= img_info['height']
        assert 0 < ann['area'] <= w * h
    for img_info in coco.imgs.values():
        img = mmcv.imread(osp.join(root, 'train', img_info['file_name']))
        assert img.shape == (img_info['height'], img_info['width'], 3)


def test_boxes_cover_every_fpn_level(train_split):
    anns = load(train_split[1])['annotations']
    # FCOS puts a box's centre on the level whose range holds ~max(w, h) / 2
    half_sides = [max(a['bbox'][2:]) / 2 for a in anns]
    for lo, hi in DEMO_REGRESS_RANGES:
        assert any(lo < s <= hi for s in half_sides), (lo, hi)
    assert min(half_sides) >= 8 and max(half_sides) <= 120


def test_boxes_overlap_but_stay_visible(train_split):
    anns = load(train_split[1])['annotations']
    by_image = {}
    for ann in anns:  # in drawing order
        by_image.setdefault(ann['image_id'], []).append(ann['bbox'])
    overlaps = 0
    for boxes in by_image.values():
        for i, (x, y, w, h) in enumerate(boxes):
            covered = 0
            for bx, by, bw, bh in boxes[i + 1:]:
                iw = min(x + w, bx + bw) - max(x, bx)
                ih = min(y + h, by + bh) - max(y, by)
                covered += max(iw, 0) * max(ih, 0)
                overlaps += iw > 0 and ih > 0
            # later shapes hide at most 30% of a box
            assert covered <= 0.3 * w * h
    assert overlaps >= 3


def test_split_is_deterministic(tmp_path, train_split):
    root, ann_file = train_split
    other = str(tmp_path)
    other_ann = generate_split(other, 'train', NUM_IMAGES, seed=0)
    with open(ann_file, 'rb') as a, open(other_ann, 'rb') as b:
        assert a.read() == b.read()
    for path in sorted(glob.glob(osp.join(root, 'train', '*.png'))):
        np.testing.assert_array_equal(
            mmcv.imread(path),
            mmcv.imread(osp.join(other, 'train', osp.basename(path))))
    # the first images do not depend on the size of the split
    generate_split(other, 'train', 2, seed=0)
    assert load(annotation_file(other, 'train'))['images'] == load(
        ann_file)['images'][:2]
    with pytest.raises(ValueError, match="split 'val' must be at least 1"):
        generate_split(other, 'val', 0)


def test_generate_synthetic_coco_reuses_complete_splits(tmp_path,
                                                        monkeypatch):
    root = str(tmp_path)
    ann_files = generate_synthetic_coco(root, num_train=3, num_val=2)
    assert ann_files == {
        'train': annotation_file(root, 'train'),
        'val': annotation_file(root, 'val')
    }
    assert len(load(ann_files['val'])['images']) == 2
    assert split_is_complete(root, 'train', 3)
    assert not split_is_complete(root, 'train', 4)
    assert not split_is_complete(root, 'train', 3, seed=1)

    made = []
    real = synthetic.generate_split
    monkeypatch.setattr(synthetic, 'generate_split',
                        lambda root, split, *args: made.append(split) or
                        real(root, split, *args))
    generate_synthetic_coco(root, num_train=3, num_val=2)
    assert made == []
    os.remove(osp.join(root, 'val', '000001.png'))
    assert not split_is_complete(root, 'val', 2)
    generate_synthetic_coco(root, num_train=3, num_val=2)
    assert made == ['val']
    with open(ann_files['train'], 'w') as f:
        f.write('{"images": ')
    assert not split_is_complete(root, 'train', 3)


def test_demo_config_matches_generator():
    configs = glob.glob(osp.join(CONFIG_DIR, 'fcos_*.py'))
    assert configs
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.model.bbox_head.num_classes == len(CLASSES)
        assert tuple(cfg.metainfo.classes) == CLASSES
        assert [tuple(c) for c in cfg.metainfo.palette] == list(PALETTE)
        ranges = cfg.model.train_cfg.assigner.regress_ranges
        assert [tuple(r) for r in ranges] == [
            tuple(r) for r in DEMO_REGRESS_RANGES
        ]
