"""A deterministic synthetic detection set in COCO format, for the demo.

The demo runs on a fresh machine with no COCO and no pretrained weights, so
it trains on shapes it draws itself (ellipses, rectangles, triangles, one
colour per class, dark outline, light noisy background), learnable from
scratch on a CPU in minutes while exercising what FCOS is about:

* **every FPN level gets objects.** Each object draws its level first, then
  a longer side in that level's range (:func:`side_ranges_for` of
  :data:`DEMO_REGRESS_RANGES`), so sides run from 16 px to most of the image;
* **objects overlap.** Shapes are drawn largest first and a later (smaller or
  equal) shape may cover up to ``max_cover`` of the boxes under it, so boxes
  intersect while every shape keeps most of its outline visible;
* **boxes are tight.** Boxes have integer corners and each shape touches all
  four sides of its box.

Each image has its own random generator seeded by ``(seed, split, index)``:
a split is identical on every machine, and its first ``n`` images do not
depend on how many are made. Images are ``(S, S, 3)`` uint8 BGR (as
``mmcv.imread`` returns them); object boxes are integer ``[x, y, w, h]``.

Layout written under ``data_root``::

    annotations/instances_train.json   COCO instances (bbox only)
    annotations/instances_val.json
    train/000000.png ...
    val/000000.png ...
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np

CLASSES = ('ellipse', 'rectangle', 'triangle')
# RGB; far apart so that colour alone nearly tells the class.
PALETTE = ((220, 50, 40), (40, 170, 60), (50, 80, 220))
SPLIT_IDS = {'train': 0, 'val': 1, 'test': 2}

DEMO_IMG_SIZE = 256
# max(l, t, r, b) ranges of P3..P7: 1.5 strides per level, so that objects of
# all levels fit in a 256 px image (mmdet's COCO ranges, 64..512, would leave
# P6 and P7 empty at this size).
DEMO_REGRESS_RANGES = ((-1, 12), (12, 24), (24, 48), (48, 96), (96, 1e8))
# Share of the objects drawn for P3..P7; big objects crowd an image, so they
# are drawn less often.
DEMO_LEVEL_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)


def side_ranges_for(regress_ranges: Sequence[Sequence[float]],
                    min_side: int = 16,
                    max_side: int = 240) -> List[Tuple[int, int]]:
    """Inclusive ``(min, max)`` longer box side landing on each FPN level
    of the assigner's ``regress_ranges``, within ``[min_side, max_side]``.

    FCOS sends a box centre to the level whose regress range ``(lo, hi]``
    holds ``max(l, t, r, b)``, about half the longer side ``s``, so
    ``2 * lo < s <= 2 * hi``. ValueError if a level gets no side.
    """
    ranges = []
    for level, (lo, hi) in enumerate(regress_ranges):
        low = max(int(np.floor(2 * lo)) + 1, min_side)
        high = int(min(np.floor(2 * hi), max_side))
        if low > high:
            raise ValueError(
                f'Regress range {(lo, hi)} of level {level} holds no box '
                f'side within [{min_side}, {max_side}] px.')
        ranges.append((low, high))
    return ranges


def shape_mask(shape: str, w: int, h: int) -> np.ndarray:
    """``(h, w)`` boolean mask of a shape (one of :data:`CLASSES`) that
    exactly fills a ``w`` x ``h`` box.

    A pixel belongs to the shape when its centre does; the triangle (apex at
    the top centre) gets half a pixel of slack so that its apex row is not
    empty and the shape touches all four box sides.
    """
    if w < 1 or h < 1:
        raise ValueError(f'Cannot draw a {shape} in a {w}x{h} box.')
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    if shape == 'rectangle':
        return np.ones((h, w), dtype=bool)
    if shape == 'ellipse':
        return (((xs - w / 2) / (w / 2))**2 +
                ((ys - h / 2) / (h / 2))**2) <= 1
    if shape == 'triangle':
        return np.abs(xs - w / 2) <= ys / h * (w / 2) + 0.5
    raise ValueError(f'Unknown shape {shape!r}; expected one of {CLASSES}.')


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels of ``mask`` within ``width`` 4-neighbour steps of its edge."""
    inner = mask.copy()
    for _ in range(width):
        padded = np.pad(inner, 1, constant_values=False)
        inner = (inner & padded[:-2, 1:-1] & padded[2:, 1:-1]
                 & padded[1:-1, :-2] & padded[1:-1, 2:])
    return mask & ~inner


def _place(boxes: List[List[int]], covered: List[float], w: int, h: int,
           img_size: int, max_cover: float, rng: np.random.Generator,
           tries: int) -> Optional[List[int]]:
    """A position for a ``w`` x ``h`` box covering at most ``max_cover`` of
    each box placed before, counting what earlier boxes covered
    (``covered``, updated in place); None after ``tries`` draws."""
    for _ in range(tries):
        x = int(rng.integers(0, img_size - w + 1))
        y = int(rng.integers(0, img_size - h + 1))
        overlaps = []
        for box_x, box_y, box_w, box_h in boxes:
            overlap_w = min(x + w, box_x + box_w) - max(x, box_x)
            overlap_h = min(y + h, box_y + box_h) - max(y, box_y)
            overlaps.append(max(overlap_w, 0) * max(overlap_h, 0))
        if all(before + overlap <= max_cover * box_w * box_h
               for before, overlap, (_, _, box_w, box_h) in zip(
                   covered, overlaps, boxes)):
            for index, overlap in enumerate(overlaps):
                covered[index] += overlap
            return [x, y, w, h]
    return None


def generate_image(
    seed: int,
    split: str,
    index: int,
    img_size: int = DEMO_IMG_SIZE,
    side_ranges: Optional[Sequence[Tuple[int, int]]] = None,
    level_weights: Sequence[float] = DEMO_LEVEL_WEIGHTS,
    num_objects: Tuple[int, int] = (3, 8),
    max_cover: float = 0.3,
    noise_std: float = 4.0,
) -> Tuple[np.ndarray, List[dict]]:
    """Draw image ``index`` of ``split`` and its objects.

    Args:
        side_ranges (Sequence[tuple[int, int]], optional): Inclusive longer
            box side per FPN level. Defaults to
            ``side_ranges_for(DEMO_REGRESS_RANGES)``.
        level_weights (Sequence[float]): Relative frequency of each level.
        num_objects (tuple[int, int]): Inclusive range of the objects tried;
            those that find no room are dropped.
        max_cover (float): Largest share of a box that later shapes may hide.
        noise_std (float): Standard deviation of the Gaussian pixel noise.

    Returns:
        tuple[np.ndarray, list[dict]]: The image and one dict per object:
        ``bbox``, ``category_id`` (1-based into :data:`CLASSES`) and
        ``area`` (shape pixels).
    """
    if split not in SPLIT_IDS:
        raise ValueError(f'Unknown split {split!r}; expected one of '
                         f'{tuple(SPLIT_IDS)}.')
    if side_ranges is None:
        side_ranges = side_ranges_for(DEMO_REGRESS_RANGES)
    if len(level_weights) != len(side_ranges):
        raise ValueError(f'{len(level_weights)} level weights for '
                         f'{len(side_ranges)} side ranges.')
    for level, (low, high) in enumerate(side_ranges):
        if not 1 <= low <= high <= img_size:
            raise ValueError(
                f'Side range {(low, high)} of level {level} does not fit in '
                f'a {img_size} px image.')
    rng = np.random.default_rng((seed, SPLIT_IDS[split], index))
    probs = np.asarray(level_weights, dtype=float)
    probs = probs / probs.sum()

    count = int(rng.integers(num_objects[0], num_objects[1] + 1))
    sizes = []
    for level in rng.choice(len(side_ranges), size=count, p=probs):
        low, high = side_ranges[level]
        long_side = int(rng.integers(low, high + 1))
        short_side = max(int(round(long_side * rng.uniform(0.7, 1.0))),
                         min(12, long_side))
        label = int(rng.integers(len(CLASSES)))
        if rng.random() < 0.5:
            sizes.append((long_side, short_side, label))
        else:
            sizes.append((short_side, long_side, label))
    # largest first, so that later (smaller) shapes sit on top and stay whole
    sizes.sort(key=lambda size: -size[0] * size[1])

    base = rng.uniform(200, 240) + rng.uniform(-8, 8, size=3)
    canvas = np.empty((img_size, img_size, 3), dtype=np.float32)
    canvas[...] = base
    boxes, covered, objects = [], [], []
    for w, h, label in sizes:
        box = _place(boxes, covered, w, h, img_size, max_cover, rng, 30)
        if box is None:
            continue
        boxes.append(box)
        covered.append(0.)
        x, y = box[:2]
        mask = shape_mask(CLASSES[label], w, h)
        colour = np.clip(
            np.asarray(PALETTE[label]) + rng.uniform(-25, 25, size=3), 0,
            255)
        patch = canvas[y:y + h, x:x + w]
        patch[mask] = colour
        patch[_outline(mask, 2 if min(w, h) >= 24 else 1)] = colour * 0.5
        objects.append(
            dict(bbox=box, category_id=label + 1, area=int(mask.sum())))
    if noise_std > 0:
        canvas += rng.normal(0, noise_std, size=canvas.shape)
    img = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return img[..., ::-1].copy(), objects


def generate_split(data_root: str,
                   split: str,
                   num_images: int,
                   seed: int = 0,
                   img_size: int = DEMO_IMG_SIZE,
                   **kwargs) -> str:
    """Write the images of one split and its COCO annotation file (path
    returned); ``kwargs`` go to :func:`generate_image`."""
    if num_images < 1:
        raise ValueError(f'num_images of split {split!r} must be at least 1, '
                         f'got {num_images}.')
    images, annotations = [], []
    for index in range(num_images):
        img, objects = generate_image(seed, split, index, img_size, **kwargs)
        file_name = f'{index:06d}.png'
        mmcv.imwrite(img, osp.join(data_root, split, file_name))
        images.append(dict(id=index + 1, file_name=file_name,
                           width=img_size, height=img_size))
        for obj in objects:
            annotations.append(dict(id=len(annotations) + 1,
                                    image_id=index + 1, iscrowd=0, **obj))
    coco = dict(
        info=dict(
            description='fcos_mm synthetic shapes',
            generator=dict(seed=seed, num_images=num_images,
                           img_size=img_size)),
        licenses=[],
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ],
        images=images,
        annotations=annotations)
    ann_file = annotation_file(data_root, split)
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return ann_file


def annotation_file(data_root: str, split: str) -> str:
    """Path of the COCO annotation file of ``split`` under ``data_root``."""
    return osp.join(data_root, 'annotations', f'instances_{split}.json')


def split_is_complete(data_root: str, split: str, num_images: int,
                      seed: int = 0, img_size: int = DEMO_IMG_SIZE) -> bool:
    """Whether the annotation file of ``split`` records these settings and
    every image it lists exists."""
    ann_file = annotation_file(data_root, split)
    if not osp.isfile(ann_file):
        return False
    try:
        with open(ann_file) as f:
            coco = json.load(f)
        made_with = coco['info']['generator']
        files = [img['file_name'] for img in coco['images']]
    except (ValueError, KeyError, TypeError):
        return False
    wanted = dict(seed=seed, num_images=num_images, img_size=img_size)
    return made_with == wanted and all(
        osp.isfile(osp.join(data_root, split, name)) for name in files)


def generate_synthetic_coco(data_root: str,
                            num_train: int = 1000,
                            num_val: int = 100,
                            seed: int = 0,
                            img_size: int = DEMO_IMG_SIZE,
                            force: bool = False) -> Dict[str, str]:
    """Make the train and val splits unless they are already there.

    Args:
        data_root (str): Folder of the data set, e.g. ``data/synthetic/``.
        num_train (int): Training images. Defaults to 1000.
        num_val (int): Validation images. Defaults to 100.
        seed (int): Seed of the data set. Defaults to 0.
        img_size (int): Side of the square images.
        force (bool): Regenerate even if a split is complete. Defaults to
            False.

    Returns:
        dict[str, str]: Annotation file path of each split.
    """
    ann_files = {}
    for split, num in (('train', num_train), ('val', num_val)):
        if force or not split_is_complete(data_root, split, num, seed,
                                          img_size):
            generate_split(data_root, split, num, seed, img_size)
        ann_files[split] = annotation_file(data_root, split)
    return ann_files
