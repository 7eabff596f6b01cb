"""Write a tiny Pascal VOC folder (JPEGImages/, Annotations/, ImageSets/Main)
for the converter tests."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np


def voc_xml(filename: Optional[str], width: Optional[int],
            height: Optional[int], objects: Sequence[Dict]) -> str:
    """A VOC annotation. Each object: ``name``, ``box`` (xmin, ymin, xmax,
    ymax as written, 1-based) and optionally ``difficult``, ``truncated``.
    A ``None`` width leaves ``<size>`` out."""
    parts = ['<annotation>', '<folder>JPEGImages</folder>']
    if filename is not None:
        parts.append(f'<filename>{filename}</filename>')
    if width is not None:
        parts.append(f'<size><width>{width}</width><height>{height}</height>'
                     f'<depth>3</depth></size>')
    for obj in objects:
        box = ''.join(f'<{tag}>{value}</{tag}>' for tag, value in zip(
            ('xmin', 'ymin', 'xmax', 'ymax'), obj['box']))
        parts.append(
            f'<object><name>{obj["name"]}</name><pose>Unspecified</pose>'
            f'<truncated>{int(obj.get("truncated", 0))}</truncated>'
            f'<difficult>{int(obj.get("difficult", 0))}</difficult>'
            f'<bndbox>{box}</bndbox></object>')
    parts.append('</annotation>')
    return '\n'.join(parts)


def make_voc(root: str,
             annotations: Dict[str, Dict],
             splits: Optional[Dict[str, List[str]]] = None,
             image_size=(40, 30)) -> str:
    """Write images and XML files under ``root``.

    Args:
        root (str): The VOC folder.
        annotations (dict): stem -> dict(objects=[...], and optionally
            ``filename``, ``size`` ((w, h) or None), ``write_image``).
        splits (dict, optional): split -> stems, written as
            ``ImageSets/Main/<split>.txt``.
        image_size (tuple): (w, h) of the images written.

    Returns:
        str: ``root``.
    """
    img_dir = osp.join(root, 'JPEGImages')
    ann_dir = osp.join(root, 'Annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    w, h = image_size
    for stem, ann in annotations.items():
        filename = ann.get('filename', f'{stem}.jpg')
        if ann.get('write_image', True):
            img = np.full((h, w, 3), 128, np.uint8)
            cv2.imwrite(osp.join(img_dir, filename or f'{stem}.jpg'), img)
        size = ann.get('size', (w, h))
        with open(osp.join(ann_dir, f'{stem}.xml'), 'w') as f:
            f.write(
                voc_xml(filename, *(size if size else (None, None)),
                        ann['objects']))
    if splits:
        split_dir = osp.join(root, 'ImageSets', 'Main')
        os.makedirs(split_dir, exist_ok=True)
        for split, stems in splits.items():
            with open(osp.join(split_dir, f'{split}.txt'), 'w') as f:
                f.write(''.join(f'{s}\n' for s in stems))
    return root
