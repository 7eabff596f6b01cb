"""Write a tiny data set in COCO layout, for tests that need files on disk.

    root/annotations/instances_{train,val}2017.json
    root/{train,val}2017/{000001,...}.jpg

Images are small JPEGs (a textured background and a filled rectangle per
object); categories keep their COCO ids and names, so mmdet's CocoDataset
with its 80 COCO class names selects them.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

# (COCO id, name)
CATEGORIES = ((1, 'person'), (3, 'car'))


def write_json(path: str, images: List[dict], annotations: List[dict],
               categories: Sequence[Tuple[int, str]] = CATEGORIES) -> str:
    """Write a COCO instances json; returns ``path``."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=annotations,
                categories=[
                    dict(id=i, name=n, supercategory='x')
                    for i, n in categories
                ]), f)
    return path


def _boxes_for(index: int, w: int, h: int) -> List[Tuple[int, List[float]]]:
    """Two objects per image, placed differently in each image."""
    s = index % 3
    return [(1, [4.0 + 2 * s, 6.0 + s, 0.4 * w, 0.5 * h]),
            (3, [0.5 * w - s, 0.45 * h, 0.4 * w, 0.4 * h])]


def make_split(root: str, split: str, num_images: int,
               size: Tuple[int, int] = (64, 64), first_id: int = 1) -> str:
    """Write ``num_images`` images and their json for one split.

    Returns:
        str: The json path.
    """
    w, h = size
    img_dir = osp.join(root, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for k in range(num_images):
        img_id = first_id + k
        rng = np.random.RandomState(img_id)
        img = rng.randint(60, 120, (h, w, 3)).astype(np.uint8)
        file_name = f'{img_id:06d}.jpg'
        for cat_id, (x, y, bw, bh) in _boxes_for(k, w, h):
            color = (200, 40, 40) if cat_id == 1 else (40, 40, 220)
            cv2.rectangle(img, (int(x), int(y)),
                          (int(x + bw) - 1, int(y + bh) - 1), color, -1)
            annotations.append(
                dict(
                    id=len(annotations) + 100 * img_id,
                    image_id=img_id,
                    category_id=cat_id,
                    bbox=[x, y, bw, bh],
                    area=bw * bh,
                    iscrowd=0))
        cv2.imwrite(osp.join(img_dir, file_name), img)
        images.append(dict(id=img_id, file_name=file_name, width=w, height=h))
    return write_json(
        osp.join(root, 'annotations', f'instances_{split}2017.json'), images,
        annotations)


def make_coco_tiny(root: str,
                   num_train: int = 2,
                   num_val: int = 2,
                   size: Tuple[int, int] = (64, 64)) -> Dict[str, str]:
    """Write train and val splits under ``root``.

    Returns:
        dict[str, str]: ``root``, ``train_ann`` and ``val_ann`` paths.
    """
    train_ann = make_split(root, 'train', num_train, size)
    val_ann = make_split(root, 'val', num_val, size, first_id=1000)
    return dict(root=root, train_ann=train_ann, val_ann=val_ann)
