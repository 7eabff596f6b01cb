"""Pascal VOC XML annotations to COCO json, one file per split.

Input: an images folder (``JPEGImages/``), a folder of one VOC XML file per
image (``Annotations/``) and optionally the split files
(``ImageSets/Main/{train,val,trainval,test}.txt``, image stems); without
them the images are shuffled with a seed and ``val_frac`` go to ``val``.

Conventions (those of mmdet's VOC loader, ``XMLDataset``)
---------------------------------------------------------
* VOC coordinates are 1-based: like mmdet (``minus_one=True``) the COCO box
  is ``[xmin - 1, ymin - 1, xmax - xmin, ymax - ymin]``. (mmdet also
  truncates fractional coordinates; we keep them. On VOC's integer
  coordinates the boxes are equal.)
* ``difficult`` objects: ``'ignore'`` (default) writes them with
  ``iscrowd=1``, which mmdet's COCO loader turns into ``ignore_flag=1`` as
  its VOC loader does: no training target, neither rewarded nor penalised
  in evaluation. ``'drop'`` leaves them out; ``'keep'`` makes them ordinary.
* ``truncated`` (and ``occluded``) objects are ordinary boxes.
* Class names come from the XML (sorted) unless given; category ids are
  1..K in that order. Objects of other classes are dropped (counted). A
  given list that names no object at all is refused (:class:`ValueError`
  naming the classes found and the closest one to each name), as is a
  missing annotations or images folder, before anything is written; each
  json is written atomically.
* The image size comes from the XML's ``<size>``; when it is missing or 0,
  from the image file (as a viewer shows it, EXIF orientation applied).
* Boxes partly outside the image are clipped; boxes with no area left or
  without four numeric coordinates are dropped. Every change is counted in
  the summary with the first file names.
* Images without objects are written too (training configs filter them with
  ``filter_empty_gt``; they count in evaluation).
"""
import json
import os
import os.path as osp
import random
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from PIL import Image

from fcos_mm.datasets.image_io import (
    EXIF_ORIENTATION_TAG,
    IMG_EXTENSIONS,
    TRANSPOSING_ORIENTATIONS,
)
from fcos_mm.utils.atomic_io import atomic_write

# Extensions tried for an image file: the usual ones, and common upper case.
STEM_EXTENSIONS = IMG_EXTENSIONS + ('.JPG', '.JPEG', '.PNG')
VOC_SPLITS = ('train', 'val', 'trainval', 'test')
DIFFICULT_POLICIES = ('ignore', 'drop', 'keep')
VOC_LAYOUT = ('Expected the Pascal VOC layout: ROOT/Annotations/*.xml (one '
              'XML file per image), ROOT/JPEGImages/ (the images) and '
              'optionally ROOT/ImageSets/Main/{train,val,trainval,test}.txt; '
              'name other folders with --ann-dir and --img-dir.')


class ConversionSummary:
    """What the conversion did, counted, with up to ``max_examples`` file
    names per kind of change."""

    def __init__(self, max_examples: int = 3) -> None:
        self.max_examples = max_examples
        self.images: Dict[str, int] = {}
        self.boxes: Dict[str, Counter] = {}
        self.counts: Counter = Counter()
        self.examples: Dict[str, List[str]] = defaultdict(list)
        self.split_source = ''

    def note(self, kind: str, name: str, count: int = 1) -> None:
        """Count ``count`` events of ``kind`` in file ``name``."""
        self.counts[kind] += count
        if (name not in self.examples[kind]
                and len(self.examples[kind]) < self.max_examples):
            self.examples[kind].append(name)

    def format(self) -> str:
        """The summary as printed by the converter."""
        lines = [self.split_source] if self.split_source else []
        for split, num_images in self.images.items():
            per_class = ', '.join(f'{name}: {count}' for name, count in
                                  self.boxes[split].items())
            lines.append(f'{split}: {num_images} images, '
                         f'{sum(self.boxes[split].values())} boxes '
                         f'({per_class or "none"})')
        for kind, count in sorted(self.counts.items()):
            examples = ', '.join(self.examples[kind])
            lines.append(f'  {kind}: {count} (e.g. {examples})')
        return '\n'.join(lines)


def _text(node: Optional[ET.Element], tag: str) -> Optional[str]:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text else None


def _int_or_zero(text: Optional[str]) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return 0


def parse_voc_xml(xml_path: str) -> Dict:
    """Read one VOC annotation file (ValueError naming it if malformed).

    Returns:
        dict: ``filename`` (str or None), ``width`` and ``height`` (0 when
        absent), and ``objects``: dicts with ``name``, ``difficult``,
        ``truncated`` (bools) and ``bndbox`` (the four strings
        ``xmin, ymin, xmax, ymax``, None when absent).
    """
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ValueError(f'{xml_path} is not a readable XML file: {e}') from e
    size = root.find('size')
    objects = []
    for obj in root.findall('object'):
        box = obj.find('bndbox')
        coords = None
        if box is not None:
            coords = tuple(
                _text(box, tag) for tag in ('xmin', 'ymin', 'xmax', 'ymax'))
        objects.append(
            dict(
                name=_text(obj, 'name'),
                difficult=_int_or_zero(_text(obj, 'difficult')) == 1,
                truncated=_int_or_zero(_text(obj, 'truncated')) == 1,
                bndbox=coords))
    return dict(
        filename=_text(root, 'filename'),
        width=_int_or_zero(_text(size, 'width')),
        height=_int_or_zero(_text(size, 'height')),
        objects=objects)


def voc_box_to_coco(coords: Optional[Sequence[Optional[str]]], width: float,
                    height: float) -> Tuple[Optional[List[float]], str]:
    """1-based VOC ``xmin, ymin, xmax, ymax`` text as a 0-based COCO
    ``[x, y, w, h]`` box clipped to the image (None when dropped), with
    ``''``, ``'clipped'`` or the reason for dropping it."""
    try:
        x1, y1, x2, y2 = (float(coord) - 1 for coord in coords)
    except (TypeError, ValueError):
        return None, 'dropped: bndbox without four numbers'
    if x2 <= x1 or y2 <= y1:
        return None, 'dropped: degenerate box (xmax <= xmin or ymax <= ymin)'
    cx1, cy1 = max(x1, 0.), max(y1, 0.)
    cx2, cy2 = min(x2, float(width)), min(y2, float(height))
    if cx2 <= cx1 or cy2 <= cy1:
        return None, 'dropped: box outside the image'
    status = 'clipped' if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2) else ''
    return [cx1, cy1, cx2 - cx1, cy2 - cy1], status


def _find_image(img_dir: str, stem: str, filename: Optional[str]) -> str:
    """The image file's name relative to ``img_dir``: the XML's
    ``<filename>`` if it exists, else ``stem`` with a usual extension."""
    candidates = ([filename] if filename else []) + [
        stem + ext for ext in STEM_EXTENSIONS
    ]
    for name in candidates:
        if osp.isfile(osp.join(img_dir, name)):
            return name
    return filename or stem + '.jpg'


def _image_header(path: str) -> Optional[Tuple[tuple, tuple, int]]:
    """((width, height) as stored, as shown, EXIF orientation), None if
    unreadable; reads the header only."""
    try:
        with Image.open(path) as img:
            orientation = int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
            stored = img.size
    except Exception:
        return None
    transposed = orientation in TRANSPOSING_ORIENTATIONS
    return stored, stored[::-1] if transposed else stored, orientation


def _split_files(split_dir: Optional[str]) -> Dict[str, str]:
    """The VOC split files present in ``split_dir``, by split."""
    paths = {split: osp.join(split_dir, f'{split}.txt')
             for split in VOC_SPLITS} if split_dir else {}
    return {split: path for split, path in paths.items() if osp.isfile(path)}


def split_stems(ann_dir: str,
                split_dir: Optional[str] = None,
                val_frac: float = 0.2,
                seed: int = 0) -> Dict[str, List[str]]:
    """The image stems of each split: from the VOC split files in
    ``split_dir`` (``train.txt``, ``val.txt``, ``trainval.txt``,
    ``test.txt``; one stem per line) that are present, else from the XML
    files of ``ann_dir`` shuffled with ``seed``, ``val_frac`` of them going
    to ``val``."""
    splits = {}
    for split, path in _split_files(split_dir).items():
        with open(path) as f:
            splits[split] = [line.split()[0] for line in f if line.strip()]
    if splits:
        return splits
    if not 0 <= val_frac < 1:
        raise ValueError(f'val_frac must be in [0, 1), not {val_frac}.')
    stems = sorted(
        osp.splitext(name)[0] for name in os.listdir(ann_dir)
        if name.lower().endswith('.xml'))
    if not stems:
        raise FileNotFoundError(f'No .xml files in {ann_dir}. {VOC_LAYOUT}')
    random.Random(seed).shuffle(stems)
    num_val = int(round(len(stems) * val_frac))
    splits['train'] = sorted(stems[num_val:])
    if num_val:
        splits['val'] = sorted(stems[:num_val])
    return splits


def _check_classes(classes: Sequence[str], found: Counter, ann_dir: str,
                   num_files: int) -> None:
    """Raise when no object of the XML files is of one of ``classes`` (the
    jsons would hold no box): naming the classes found, with counts, and
    the closest one to each given name."""
    if any(name in found for name in classes):
        return
    counts = ', '.join(f'{name!r} ({count})'
                       for name, count in sorted(found.items())) or 'none'
    if not found:
        raise ValueError(f'The {num_files} XML files of {ann_dir} hold no '
                         f'<object> with a <name>: there is nothing to '
                         f'convert. {VOC_LAYOUT}')
    import difflib
    lowered = {name.lower(): name for name in found}
    hints = []
    for name in classes:
        near = lowered.get(str(name).lower()) or next(
            iter(difflib.get_close_matches(str(name), list(found), n=1)),
            None)
        if near:
            hints.append(f'{name!r}: did you mean {near!r}?')
    hints = f' ({"; ".join(hints)})' if hints else ''
    raise ValueError(
        f'None of the classes {list(classes)} names an object in the '
        f'{num_files} XML files of {ann_dir}{hints}: every box would be '
        f'dropped. The objects there, with their counts: {counts}. Fix: '
        f'--classes {" ".join(sorted(found))} (in the label order you '
        f'want), or leave --classes out to take them all.')


def convert_voc_to_coco(img_dir: str,
                        ann_dir: str,
                        out_dir: str,
                        split_dir: Optional[str] = None,
                        classes: Optional[Sequence[str]] = None,
                        val_frac: float = 0.2,
                        seed: int = 0,
                        difficult: str = 'ignore'
                        ) -> Tuple[Dict[str, str], ConversionSummary]:
    """Convert a VOC-style data set to one COCO json per split.

    Args:
        img_dir (str): The images folder; ``file_name`` in the json is
            relative to it (use it as the config's ``data_prefix.img``).
        ann_dir (str): The XML folder.
        out_dir (str): Where ``<split>.json`` is written.
        split_dir (str, optional): Folder of VOC split files (see
            :func:`split_stems`).
        classes (Sequence[str], optional): Class names, in label order.
            Defaults to the names found in the XML files, sorted.
        val_frac (float): Share of ``val`` without split files.
        seed (int): Seed of the random split.
        difficult (str): ``'ignore'``, ``'drop'`` or ``'keep'``; see the
            module docstring.

    Returns:
        tuple[dict[str, str], ConversionSummary]: The json path of each
        split, and what was done.
    """
    if difficult not in DIFFICULT_POLICIES:
        raise ValueError(f'difficult must be one of {DIFFICULT_POLICIES}, '
                         f'not {difficult!r}.')
    for folder, what in ((ann_dir, 'annotations'), (img_dir, 'images')):
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'The {what} folder {folder} does not exist. {VOC_LAYOUT}')
    splits = split_stems(ann_dir, split_dir, val_frac, seed)
    parsed = {}
    for stem in sorted(set().union(*splits.values())):
        xml_path = osp.join(ann_dir, f'{stem}.xml')
        if not osp.isfile(xml_path):
            raise FileNotFoundError(
                f'{xml_path} does not exist (listed in a split file).')
        parsed[stem] = parse_voc_xml(xml_path)
    found = Counter(obj['name'] for ann in parsed.values()
                    for obj in ann['objects'] if obj['name'])
    if classes is None:
        classes = sorted(found)
    _check_classes(classes, found, ann_dir, len(parsed))
    cat_ids = {name: i + 1 for i, name in enumerate(classes)}
    categories = [dict(id=i, name=name, supercategory='none')
                  for name, i in cat_ids.items()]

    summary = ConversionSummary()
    for name in classes:
        if name not in found:
            summary.note('classes with no object in the XML files (no box '
                         'will be written for them)', repr(name))
    summary.split_source = (
        f'splits from the files in {split_dir}' if _split_files(split_dir)
        else f'no split files: random split, val_frac {val_frac}, seed {seed}')
    os.makedirs(out_dir, exist_ok=True)
    out_files = {}
    for split, stems in splits.items():
        images, annotations = [], []
        boxes = Counter({name: 0 for name in classes})
        for img_id, stem in enumerate(stems, 1):
            ann = parsed[stem]
            file_name = _find_image(img_dir, stem, ann['filename'])
            header = _image_header(osp.join(img_dir, file_name))
            width, height = ann['width'], ann['height']
            if header is None:
                summary.note(
                    'image file missing or unreadable (kept; '
                    'tools/misc/check_dataset.py names it)', file_name)
            elif header[2] != 1:
                stored, shown = header[:2]
                summary.note('EXIF-rotated photos (loaded rotated, as '
                             'viewers show them)', file_name)
                if (width, height) == stored and stored != shown:
                    summary.note(
                        'EXIF-rotated photos whose XML <size> is the '
                        'unrotated one (were the boxes drawn on unrotated '
                        'pixels? check them)', file_name)
            if width <= 0 or height <= 0:
                if header is None:
                    summary.note(
                        'images left out: no <size> and no readable file',
                        file_name)
                    continue
                width, height = header[1]
                summary.note('sizes read from the image (no <size>)',
                             file_name)
            images.append(dict(id=img_id, file_name=file_name, width=width,
                               height=height))
            num_boxes = 0
            for obj in ann['objects']:
                if obj['name'] not in cat_ids:
                    summary.note(f'boxes dropped: class {obj["name"]!r} not '
                                 f'in the class list', file_name)
                    continue
                if obj['difficult'] and difficult == 'drop':
                    summary.note('difficult boxes dropped', file_name)
                    continue
                bbox, status = voc_box_to_coco(obj['bndbox'], width, height)
                if bbox is None:
                    summary.note(f'boxes {status}', file_name)
                    continue
                if status:
                    summary.note(f'boxes {status} to the image', file_name)
                iscrowd = int(obj['difficult'] and difficult == 'ignore')
                if obj['difficult']:
                    summary.note(
                        'difficult boxes kept as ignored (iscrowd=1)'
                        if iscrowd else 'difficult boxes kept as ordinary',
                        file_name)
                if obj['truncated']:
                    summary.note('truncated boxes (kept as ordinary)',
                                 file_name)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=img_id,
                    category_id=cat_ids[obj['name']], bbox=bbox,
                    area=bbox[2] * bbox[3], iscrowd=iscrowd))
                boxes[obj['name']] += 1
                num_boxes += 1
            if num_boxes == 0:
                summary.note(f'{split} images without boxes', file_name)
        out_files[split] = osp.join(out_dir, f'{split}.json')
        atomic_write(
            json.dumps(dict(images=images, annotations=annotations,
                            categories=categories)), out_files[split])
        summary.images[split] = len(images)
        summary.boxes[split] = boxes
    return out_files, summary
