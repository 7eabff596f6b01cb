"""Images as training sees them: after the data pipeline, with their boxes.

:func:`browse_dataset` builds a dataloader's dataset from a config, runs
its pipeline on the first images and writes each network input with its
ground-truth boxes and class names drawn. With EXIF-rotated photos this is
how a user sees whether the boxes sit on the pixels the model gets.
"""
import copy
import os
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np

from fcos_mm.visualization.image import draw_sample

LOADERS = dict(train='train_dataloader', val='val_dataloader',
               test='test_dataloader')


def browse_dataset(cfg, out_dir: str, split: str = 'train',
                   num_images: Optional[int] = 20,
                   keep_random: bool = False) -> List[str]:
    """Write the first ``num_images`` inputs of ``split``'s dataset.

    Args:
        cfg (Config): The config.
        out_dir (str): Folder for the drawn images (PNG, named after the
            image file).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        num_images (int, optional): Images to draw; None: all.
        keep_random (bool): Keep random transforms (flips, crops); by
            default ``RandomFlip`` is dropped so two runs agree.

    Returns:
        list[str]: The files written.
    """
    from fcos_mm.registry import DATASETS, fcos_mm_scope
    dataset_cfg = copy.deepcopy(cfg[LOADERS[split]]['dataset'])
    if not keep_random and 'pipeline' in dataset_cfg:
        dataset_cfg['pipeline'] = [
            transform for transform in dataset_cfg['pipeline']
            if 'RandomFlip' not in str(transform.get('type'))]
    with fcos_mm_scope():
        dataset = DATASETS.build(dataset_cfg)
    classes = dataset.metainfo.get('classes')
    os.makedirs(out_dir, exist_ok=True)
    count = len(dataset) if num_images is None else min(num_images,
                                                        len(dataset))
    written = []
    for index in range(count):
        item = dataset[index]
        img = item['inputs'].permute(1, 2, 0).numpy().astype(np.uint8)
        sample = item['data_samples']
        bboxes = sample.gt_instances.bboxes
        bboxes = getattr(bboxes, 'tensor', bboxes).numpy()
        labels = sample.gt_instances.labels.numpy()
        name = osp.splitext(osp.basename(sample.img_path))[0]
        path = osp.join(out_dir, f'{index:05d}_{name}.png')
        cv2.imwrite(path, draw_sample(img, bboxes, labels, classes))
        written.append(path)
    return written
