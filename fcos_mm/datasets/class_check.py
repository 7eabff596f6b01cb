"""Classes and counts, before the first step: the config's ``classes``
against its annotation files' categories and the head's ``num_classes``,
from the config and the annotation jsons alone (no image is read; seconds).

:func:`class_problems` finds the problems; :func:`check_before_first_step`
logs the warnings and raises on the errors (``tools/train.py``,
``tools/test.py``, through
:func:`fcos_mm.engine.runner_setup.check_before_first_step`);
``tools/misc/check_dataset.py`` reports them first, with the rest of its
checks (:mod:`fcos_mm.datasets.check_dataset`). What is checked:

* each data set's (train, val, test) ``metainfo['classes']`` against its
  json's categories, by name: a typo gets the closest name (``difflib``,
  case included: ``'Raccoon'`` -> ``'raccoon'``); a class the json lacks is
  an error in val / test (the ``CocoMetric`` would fail or mislabel) and
  a warning in train unless no class matches at all;
* each evaluator's ``ann_file`` against its loader's classes (mmdet's
  ``CocoMetric`` maps labels to the json's category ids by name);
* ``len(classes)`` against the head's ``num_classes``, both ways, and the
  val / test classes against the train classes;
* a json without images, a split without one usable box, a training set
  whose ``filter_cfg`` keeps no image.

Each problem names the config key and the file, and gives the fix as
``--cfg-options`` and as a child-config line.
"""
import difflib
import json
import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.fileio import get

from .coco import is_coco_bbox

SEVERITIES = ('error', 'warning', 'info')
LOADER_KEYS = OrderedDict(
    train='train_dataloader', val='val_dataloader', test='test_dataloader')


def _join(root: Optional[str], path: str) -> str:
    if root and not osp.isabs(path) and '://' not in path:
        return osp.join(root, path)
    return path


def _leaf_datasets(dataset_cfg: dict) -> Iterable[dict]:
    """The data sets with an ``ann_file`` inside (wrapped) dataset cfgs."""
    if 'dataset' in dataset_cfg:
        yield from _leaf_datasets(dataset_cfg['dataset'])
    elif 'datasets' in dataset_cfg:
        for child in dataset_cfg['datasets']:
            yield from _leaf_datasets(child)
    elif 'ann_file' in dataset_cfg:
        yield dataset_cfg


EVALUATOR_KEYS = OrderedDict(val='val_evaluator', test='test_evaluator')
HEAD_KEYS = ('bbox_head', 'roi_head.bbox_head')


class DataCheckError(ValueError):
    """A config and its annotation files disagree; the message lists every
    problem with its fix."""


class ConfigProblem:
    """One problem of :func:`class_problems`.

    Args:
        severity (str): ``'error'`` or ``'warning'``.
        key (str): The config key at fault, e.g.
            ``'train_dataloader.dataset.metainfo.classes'``.
        message (str): What is wrong, naming the file, and the fix.
    """

    def __init__(self, severity: str, key: str, message: str) -> None:
        self.severity, self.key, self.message = severity, key, message

    def __repr__(self) -> str:
        return f'{self.severity.upper()} {self.key}: {self.message}'


def _leaf_dataset_keys(dataset_cfg: dict,
                       key: str) -> Iterable[Tuple[str, dict]]:
    """:func:`_leaf_datasets` with each one's config key."""
    if 'dataset' in dataset_cfg:
        yield from _leaf_dataset_keys(dataset_cfg['dataset'],
                                      f'{key}.dataset')
    elif 'datasets' in dataset_cfg:
        for index, child in enumerate(dataset_cfg['datasets']):
            yield from _leaf_dataset_keys(child, f'{key}.datasets.{index}')
    elif 'ann_file' in dataset_cfg:
        yield key, dataset_cfg


def dataset_classes(dataset_cfg: dict):
    """The ``classes`` a dataset config selects: its ``metainfo``'s, else
    its type's default (mmdet's ``CocoDataset``: the 80 COCO names); None
    when the type is unknown here."""
    classes = (dataset_cfg.get('metainfo') or {}).get('classes')
    if classes is not None:
        return classes
    dataset_type = dataset_cfg.get('type')
    if isinstance(dataset_type, str):
        from fcos_mm.registry import DATASETS
        try:
            dataset_type = DATASETS.get(dataset_type)
        except Exception:  # a scope the registry cannot import
            dataset_type = None
    metainfo = getattr(dataset_type, 'METAINFO', None) or {}
    classes = metainfo.get('classes')
    return tuple(classes) if classes is not None else None


def head_num_classes(model_cfg: Optional[dict]) -> List[Tuple[str, int]]:
    """``(config key, num_classes)`` of the model's classifying heads
    (``bbox_head``, a two-stage ``roi_head.bbox_head``, each stage of a
    cascade); an RPN alone has none."""
    found = []
    for key in HEAD_KEYS:
        node = model_cfg or {}
        for part in key.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        heads = node if isinstance(node, (list, tuple)) else [node]
        for index, head in enumerate(heads):
            if isinstance(head, dict) and head.get('num_classes') is not None:
                where = key if len(heads) == 1 else f'{key}.{index}'
                found.append((f'model.{where}.num_classes',
                              int(head['num_classes'])))
    return found


def closest_name(name: str, candidates: Sequence[str]) -> Optional[str]:
    """The candidate ``name`` was probably meant to be: equal but for case,
    else the closest by ``difflib`` (ratio >= 0.6), else None."""
    folded = [c for c in candidates if c.lower() == str(name).lower()]
    if folded:
        return folded[0]
    close = difflib.get_close_matches(str(name), list(candidates), n=1)
    return close[0] if close else None


def _tuple_text(names: Sequence[str]) -> str:
    """``('a', 'b')`` / ``('a', )`` as a child config writes it."""
    inner = ', '.join(repr(str(name)) for name in names)
    return f'({inner}, )' if len(names) == 1 else f'({inner})'


def _classes_fix(key: str, names: Sequence[str]) -> str:
    """The fix setting ``key`` to ``names``, in both forms a user types."""
    cli = ','.join(str(name) for name in names)
    cli = f'({cli},)' if len(names) == 1 else f'({cli})'
    return (f'Fix: --cfg-options "{key}={cli}", or in a child config '
            f'metainfo = dict(classes={_tuple_text(names)}) and '
            f'dataset=dict(metainfo=metainfo) in each of train_dataloader, '
            f'val_dataloader and test_dataloader.')


def _read_coco(ann_file: str, cache: Dict[str, Optional[dict]]
               ) -> Optional[dict]:
    """The json at ``ann_file`` (read once per call of
    :func:`class_problems`); None when unreadable: the dataset itself and
    :func:`check_dataset` report that, naming the file."""
    if ann_file not in cache:
        try:
            coco = json.loads(get(ann_file))
            cache[ann_file] = coco if isinstance(coco, dict) else None
        except Exception:
            cache[ann_file] = None
    return cache[ann_file]


def _json_categories(coco: dict) -> List[Tuple[object, str]]:
    """``(id, name)`` in the json's order (the order labels follow)."""
    return [(cat.get('id'), str(cat.get('name')))
            for cat in coco.get('categories') or [] if isinstance(cat, dict)]


def _name_problems(classes: Sequence[str], coco: dict, ann_file: str,
                   key: str, split: str,
                   what: str = 'data set') -> List[ConfigProblem]:
    """``classes`` against the json's category names (see
    :func:`class_problems`)."""
    names = [name for _, name in _json_categories(coco)]
    shown = ', '.join(repr(name) for name in names) or 'none'
    absent = [name for name in classes if name not in names]
    problems = []
    evaluator = what != 'data set'
    suggestions = {name: closest_name(name, names) for name in absent}
    typos = {name: near for name, near in suggestions.items() if near}
    if typos or len(absent) == len(classes) or (absent and split != 'train'):
        fixed = [typos.get(name, name) for name in classes]
        if len(absent) == len(classes) and not typos:
            fixed = names
        meant = '; '.join(f'{name!r}: did you mean {near!r}?'
                          for name, near in typos.items())
        why = ("mmdet's CocoMetric would fail on (or mislabel) predictions "
               'of the classes the json lacks' if evaluator or (
                   split != 'train' and len(absent) < len(classes)) else
               'no box would be selected, and the data set would be empty'
               if len(absent) == len(classes) else
               'their boxes would never be trained on')
        fix = _classes_fix(key, fixed)
        if evaluator:
            fix = (f'Fix: point {what.split(", ")[1]} at the json of the '
                   f'{split} data set, or correct the classes: {fix}')
        problems.append(ConfigProblem(
            'error', key,
            f'{ann_file} ({split} {what}) has no category named '
            f'{", ".join(repr(name) for name in absent)} '
            f'({meant + "; " if meant else ""}its categories: {shown}): '
            f'{why}. {fix}'))
    elif absent:
        problems.append(ConfigProblem(
            'warning', key,
            f'{ann_file} (train data set) has no category named '
            f'{", ".join(repr(name) for name in absent)} (its categories: '
            f'{shown}): the model gets no box of it to learn.'))
    present = [name for name in names if name in classes]
    listed = [name for name in classes if name in present]
    if listed != present:
        problems.append(ConfigProblem(
            'error', key,
            f'{ann_file} lists its categories in the order {present}, the '
            f'config in the order {listed}: labels follow the json\'s '
            f'order, so the names would be attached to the wrong classes. '
            f'{_classes_fix(key, present)}'))
    return problems


def _usable(ann: dict, img: dict) -> bool:
    """Whether mmdet's ``CocoDataset.parse_data_info`` keeps ``ann`` as a
    box to train on (not ignored, some area inside its image)."""
    bbox = ann.get('bbox')
    if ann.get('ignore') or ann.get('iscrowd') or not is_coco_bbox(bbox):
        return False
    x, y, w, h = bbox
    width, height = img.get('width') or 0, img.get('height') or 0
    inter_w = max(0, min(x + w, width) - max(x, 0))
    inter_h = max(0, min(y + h, height) - max(y, 0))
    area = ann.get('area', w * h)
    return inter_w * inter_h > 0 and area > 0 and w >= 1 and h >= 1


def _content_problems(dataset_cfg: dict, classes: Sequence[str],
                      coco: dict, ann_file: str, key: str,
                      split: str) -> List[ConfigProblem]:
    """No images, no usable box, nothing left after ``filter_cfg``."""
    images = {img.get('id'): img for img in coco.get('images') or []
              if isinstance(img, dict)}
    if not images:
        return [ConfigProblem(
            'error', f'{key}.ann_file',
            f'{ann_file} ({split} data set) lists no images.')]
    if 'annotations' not in coco:  # an image-info file (e.g. test-dev)
        return []
    selected = {cat_id for cat_id, name in _json_categories(coco)
                if name in classes}
    boxes, with_class = 0, set()
    for ann in coco.get('annotations') or []:
        if not isinstance(ann, dict) or ann.get('category_id') not in (
                selected):
            continue
        with_class.add(ann.get('image_id'))
        img = images.get(ann.get('image_id'))
        boxes += bool(img is not None and _usable(ann, img))
    if boxes == 0:
        return [ConfigProblem(
            'error', f'{key}.ann_file',
            f'{ann_file} ({split} data set) has no usable box of the classes '
            f'{_tuple_text(classes)} among its '
            f'{len(coco.get("annotations") or [])} annotations (a usable box '
            f'is not iscrowd and has width and height >= 1 px inside its '
            f'image): check the classes and the converter\'s output '
            f'(tools/misc/check_dataset.py lists what it found).')]
    filter_cfg = dataset_cfg.get('filter_cfg') or {}
    if split != 'train' or dataset_cfg.get('test_mode') or not filter_cfg:
        return []
    min_size = filter_cfg.get('min_size', 0) or 0
    kept = [img for img_id, img in images.items()
            if (img_id in with_class or not filter_cfg.get('filter_empty_gt'))
            and min(img.get('width') or 0, img.get('height') or 0) >= min_size]
    if kept:
        return []
    return [ConfigProblem(
        'error', f'{key}.filter_cfg',
        f'{ann_file} (train data set): filter_cfg={dict(filter_cfg)} keeps '
        f'none of its {len(images)} images (images smaller than min_size '
        f'px, or without a box of the classes, are dropped). Fix: '
        f'--cfg-options {key}.filter_cfg.min_size=0, or in a child config '
        f'train_dataloader = dict(dataset=dict(filter_cfg=dict('
        f'min_size=0))).')]


def _evaluator_cfgs(cfg: Config, split: str) -> List[Tuple[str, dict]]:
    """``(key, cfg)`` of the metrics of ``split``'s evaluator that read
    class names (a ``CocoMetric`` on boxes or masks with an ``ann_file``)."""
    evaluator = cfg.get(EVALUATOR_KEYS.get(split, ''), None)
    key = EVALUATOR_KEYS.get(split, '')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator, key = evaluator['metrics'], f'{key}.metrics'
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [
        evaluator]
    found = []
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict) or not metric.get('ann_file'):
            continue
        kinds = metric.get('metric', 'bbox')
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if any(kind in ('bbox', 'segm') for kind in kinds):
            found.append((key if len(metrics) == 1 else f'{key}.{index}',
                          metric))
    return found


def class_problems(cfg: Config,
                   splits: Sequence[str] = ('train', 'val', 'test')
                   ) -> List[ConfigProblem]:
    """What the config's ``splits`` (of :data:`LOADER_KEYS`) and their
    annotation files get wrong about classes and counts (module docstring,
    "Before the first step"); reads each json once, no image.

    Args:
        cfg (Config): The config (``--cfg-options`` merged).
        splits (Sequence[str]): The loaders to check, with their
            evaluators.

    Returns:
        list[ConfigProblem]: Errors first, in config order.
    """
    cache: Dict[str, Optional[dict]] = {}
    heads = head_num_classes(cfg.get('model'))
    problems: List[ConfigProblem] = []
    split_classes: Dict[str, Tuple[str, tuple]] = OrderedDict()
    misnamed = set()  # splits whose classes a json lacks
    counted = set()  # (head key, classes) already said not to match
    for split in splits:
        loader = cfg.get(LOADER_KEYS[split])
        if not loader or 'dataset' not in loader:
            continue
        loader_ann_files = []
        for key, dataset in _leaf_dataset_keys(
                loader['dataset'], f'{LOADER_KEYS[split]}.dataset'):
            classes = dataset_classes(dataset)
            key = f'{key}.metainfo.classes'
            if classes is None:
                continue
            if isinstance(classes, str):
                problems.append(ConfigProblem(
                    'error', key,
                    f'classes is the string {classes!r}, not a tuple of '
                    f'names: write classes=({classes!r}, ) (the comma '
                    f'makes the tuple).'))
                continue
            classes = tuple(str(name) for name in classes)
            if not classes:
                problems.append(ConfigProblem(
                    'error', key, 'classes is empty: name the classes to '
                    'detect, as in the annotation file\'s categories.'))
                continue
            split_classes.setdefault(split, (key, classes))
            ann_file = _join(dataset.get('data_root'), dataset['ann_file'])
            loader_ann_files.append(ann_file)
            coco = _read_coco(ann_file, cache)
            if coco is None:
                continue
            named = _name_problems(classes, coco, ann_file, key, split)
            if any(problem.severity == 'error' for problem in named):
                misnamed.add(split)
            problems += named
            problems += _content_problems(dataset, classes, coco, ann_file,
                                          key.rsplit('.metainfo', 1)[0],
                                          split)
        if split not in split_classes:
            continue
        key, classes = split_classes[split]
        for metric_key, metric in _evaluator_cfgs(cfg, split):
            ann_file = metric['ann_file']
            coco = _read_coco(ann_file, cache)
            if coco is not None and ann_file not in loader_ann_files:
                problems += _name_problems(
                    classes, coco, ann_file, key, split,
                    what=f'evaluator, {metric_key}.ann_file')
        for head_key, num_classes in heads:
            if num_classes != len(classes) and (head_key, classes) not in (
                    counted):
                counted.add((head_key, classes))
                problems.append(ConfigProblem(
                    'error', head_key,
                    f'{head_key} is {num_classes} but {key} names '
                    f'{len(classes)} class(es) {_tuple_text(classes)}: the '
                    f'head must have one output per class. Fix: '
                    f'--cfg-options {head_key}={len(classes)}, or in a '
                    f'child config model = dict({head_key.split(".")[1]}='
                    f'dict(num_classes=len(classes))) (or correct the '
                    f'classes).'))
    # Against the train classes once they are right (else the fix would
    # copy a typo).
    if 'train' in split_classes and 'train' not in misnamed:
        train_key, train_classes = split_classes['train']
        for split, (key, classes) in split_classes.items():
            if split != 'train' and classes != train_classes:
                problems.append(ConfigProblem(
                    'error', key,
                    f'{key} is {_tuple_text(classes)}, but the model is '
                    f'trained on {train_key} = {_tuple_text(train_classes)}:'
                    f' {split} would label predictions with other names '
                    f'(or fail in CocoMetric after training). '
                    f'{_classes_fix(key, train_classes)}'))
    order = {severity: rank for rank, severity in enumerate(SEVERITIES)}
    return sorted(problems, key=lambda problem: order[problem.severity])


def format_problems(problems: Sequence[ConfigProblem]) -> str:
    """The problems as :class:`DataCheckError` and the tool print them."""
    return '\n'.join(f'  {problem.severity.upper():7s} {problem.key}: '
                     f'{problem.message}' for problem in problems)


def check_before_first_step(cfg: Config, splits: Sequence[str]) -> None:
    """:func:`class_problems` for the tools: log the warnings, raise on
    the errors, before any data set or model is built.

    Raises:
        DataCheckError: Every error, each with its fix.
    """
    from mmengine.logging import print_log
    problems = class_problems(cfg, splits)
    errors = [problem for problem in problems if problem.severity == 'error']
    for problem in problems:
        if problem.severity != 'error':
            print_log(f'{problem.key}: {problem.message}', 'current',
                      level=logging.WARNING)
    if errors:
        raise DataCheckError(
            f'The config and its annotation files disagree '
            f'({len(errors)} error(s); tools/misc/check_dataset.py CONFIG '
            f'checks them and the images):\n{format_problems(errors)}')
