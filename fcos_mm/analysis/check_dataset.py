"""Check a config's data sets before training: every annotation, every image.

:func:`check_datasets` reads the COCO json of each data set a config's
loaders use, decodes every image it lists with the loader's own decoder
(:func:`~fcos_mm.datasets.image_io.inspect_image`), and collects **all**
problems, each with a severity:

* ``error``: training or testing would stop on it (a missing or
  undecodable image with the default ``on_bad_image='raise'``; an
  annotation our :class:`~fcos_mm.datasets.CocoDataset` refuses: unknown
  category or image id, malformed box, duplicate id; an unreadable json);
* ``warning``: the run goes on but the data is probably not what was meant
  (image size in the json differs from the file, e.g. an EXIF rotation the
  annotation tool ignored; a truncated file that only the tolerant decoder
  reads; boxes clipped, dropped as outside their image or degenerate);
* ``info``: handled, but worth knowing (EXIF orientation applied, non-RGB
  files such as greyscale, CMYK, alpha or 16-bit, images without boxes,
  ignored (``iscrowd``) boxes).

Before the first step
---------------------
:func:`class_problems` checks, from the config and the annotation jsons
alone (no image is read; seconds), what would otherwise fail late or train
the wrong thing:

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
``--cfg-options`` and as a child-config line. :func:`check_before_first_step`
(``tools/train.py``, ``tools/test.py``) raises :class:`DataCheckError` on
the errors and logs the warnings; ``tools/misc/check_dataset.py`` reports
them with the rest. Images on disk are checked by
:class:`~fcos_mm.engine.hooks.CheckImagesHook` (a ``stat`` each, before
training and testing) and, decoded, by :func:`check_dataset`.

For an FCOS model, :func:`check_level_balance` also runs the training
assigner on the training boxes after the pipeline's resize and warns when
most positive locations fall on one level, with regress ranges that spread
them (``tools/analysis_tools/fcos_statistics.py --propose-ranges``).

``tools/misc/check_dataset.py`` prints the report and exits 1 on an error.
"""
import json
import logging
import os.path as osp
import sys
import time
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.fileio import get

from fcos_mm.datasets.coco import is_coco_bbox
from fcos_mm.datasets.image_io import (
    TRANSPOSING_ORIENTATIONS,
    inspect_image_file,
)

SEVERITIES = ('error', 'warning', 'info')
LOADER_KEYS = OrderedDict(
    train='train_dataloader', val='val_dataloader', test='test_dataloader')


class DatasetReport:
    """The problems found in one data set (one annotation file).

    Args:
        name (str): e.g. ``'train'`` or ``'val/test'``.
        ann_file (str): The json.
        img_dir (str): The folder its ``file_name`` s are relative to.
        max_examples (int): File names kept per kind of problem.
    """

    def __init__(self, name: str, ann_file: str, img_dir: str,
                 max_examples: int = 5) -> None:
        self.name, self.ann_file, self.img_dir = name, ann_file, img_dir
        self.max_examples = max_examples
        self.num_images = 0
        self.num_boxes = 0
        # (severity, kind) -> [count, examples]
        self.problems: Dict[Tuple[str, str], list] = OrderedDict()

    def add(self, severity: str, kind: str, example: str) -> None:
        """Count one problem of ``kind``; keep ``example`` among the first
        few."""
        entry = self.problems.setdefault((severity, kind), [0, []])
        entry[0] += 1
        if len(entry[1]) < self.max_examples and example not in entry[1]:
            entry[1].append(example)

    def count(self, severity: str) -> int:
        """Number of problems of ``severity``."""
        return sum(count for (kind_severity, _), (count, _) in
                   self.problems.items() if kind_severity == severity)

    def kinds(self, severity: Optional[str] = None) -> Dict[str, int]:
        """Kind of problem to count, for one severity or all."""
        return {
            kind: count
            for (kind_severity, kind), (count, _) in self.problems.items()
            if severity is None or kind_severity == severity
        }

    def examples(self, kind: str) -> List[str]:
        """The first file names (or ids) with a problem of ``kind``."""
        for (_, problem_kind), (_, names) in self.problems.items():
            if problem_kind == kind:
                return names
        return []

    def format(self) -> str:
        """The report as the tool prints it."""
        lines = [f'{self.name}: {self.ann_file} ({self.num_images} images, '
                 f'{self.num_boxes} boxes; images in {self.img_dir})']
        order = {severity: rank for rank, severity in enumerate(SEVERITIES)}
        for (severity, kind), (count, names) in sorted(
                self.problems.items(), key=lambda item: order[item[0][0]]):
            more = ', ...' if count > len(names) else ''
            lines.append(f'  {severity.upper():7s} {kind}: {count} '
                         f'({", ".join(names)}{more})')
        if not self.problems:
            lines.append('  no problems found')
        return '\n'.join(lines)


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


def _decode_backend(dataset_cfg: dict) -> str:
    for transform in dataset_cfg.get('pipeline') or []:
        if str(transform.get('type', '')).endswith('LoadImageFromFile'):
            return transform.get('imdecode_backend', 'cv2')
    return 'cv2'


def dataset_sources(cfg: Config,
                    splits: Sequence[str] = ('train', 'val', 'test')
                    ) -> List[Dict]:
    """The annotation files, image folders and decoders that ``splits``
    (any of :data:`LOADER_KEYS`) of a config use: one dict per distinct
    (annotation file, image folder) with ``name`` (the splits using it,
    e.g. ``'val/test'``), ``ann_file``, ``img_dir`` and ``backend``."""
    sources: Dict[Tuple[str, str], Dict] = OrderedDict()
    for split in splits:
        loader = cfg.get(LOADER_KEYS[split])
        if not loader or 'dataset' not in loader:
            continue
        for dataset in _leaf_datasets(loader['dataset']):
            root = dataset.get('data_root')
            prefix = (dataset.get('data_prefix') or {}).get('img', '')
            ann_file = _join(root, dataset['ann_file'])
            img_dir = _join(root, prefix)
            key = (ann_file, img_dir)
            if key in sources:
                if split not in sources[key]['name'].split('/'):
                    sources[key]['name'] += f'/{split}'
                continue
            sources[key] = dict(
                name=split,
                ann_file=ann_file,
                img_dir=img_dir,
                backend=_decode_backend(dataset))
    return list(sources.values())


def _check_annotations(report: DatasetReport, coco: dict,
                       sizes: Dict[int, Tuple[int, int]]) -> None:
    """Add the annotation-level problems of a COCO dict to ``report``."""
    cats = {cat.get('id') for cat in coco.get('categories', [])}
    images = {img.get('id'): img for img in coco.get('images', [])}
    boxes_per_image = defaultdict(int)
    seen_ids = set()
    for ann in coco.get('annotations', []):
        ann_id = ann.get('id')
        where = f'annotation {ann_id}'
        if ann_id in seen_ids:
            report.add('error', 'duplicate annotation id', where)
        seen_ids.add(ann_id)
        img = images.get(ann.get('image_id'))
        if img is None:
            report.add('error', 'annotation of an image id the json does '
                       'not list', where)
            continue
        where = f'{img.get("file_name")} ({where})'
        if ann.get('category_id') not in cats:
            report.add('error', 'unknown category id',
                       f'{where}: category_id {ann.get("category_id")}')
            continue
        bbox = ann.get('bbox')
        if not is_coco_bbox(bbox):
            report.add('error', 'malformed bbox (not four finite numbers)',
                       where)
            continue
        report.num_boxes += 1
        if ann.get('iscrowd'):
            report.add('info', 'ignored boxes (iscrowd=1)', where)
        x, y, w, h = bbox
        if w < 1 or h < 1:
            report.add('warning', 'degenerate boxes (width or height < 1 '
                       'px; not trained on)', where)
            continue
        width, height = sizes.get(img['id'], (img.get('width'),
                                              img.get('height')))
        if not width or not height:
            continue
        x2, y2 = min(x + w, width), min(y + h, height)
        if x2 <= max(x, 0) or y2 <= max(y, 0):
            report.add('warning', 'boxes outside their image (dropped)',
                       where)
        elif x < 0 or y < 0 or x + w > width or y + h > height:
            report.add('warning', 'boxes partly outside their image '
                       '(clipped)', where)
        if not ann.get('iscrowd'):
            boxes_per_image[img['id']] += 1
    for img_id, img in images.items():
        if not boxes_per_image[img_id]:
            report.add('info', 'images without boxes',
                       str(img.get('file_name')))


def _check_image(report: DatasetReport, img: dict, info: Dict) -> None:
    """Add the file-level problems of one image to ``report``."""
    name = str(img.get('file_name'))
    if info.get('missing'):
        report.add('error', 'missing image files', name)
        return
    if info.get('error'):
        report.add('error', 'undecodable image files', name)
        return
    if info['fallback']:
        report.add(
            'warning', 'truncated or damaged files (only the tolerant '
            'decoder reads them; missing parts filled in)', name)
    if info['mode'] not in (None, 'RGB'):
        report.add('info', f'non-RGB files (mode {info["mode"]}; loaded '
                   f'as 8-bit BGR)', name)
    orientation = info['orientation']
    if orientation != 1:
        report.add('info', 'EXIF orientation (applied when loading)',
                   f'{name} ({orientation})')
    json_size = (img.get('width'), img.get('height'))
    file_size = (info['width'], info['height'])
    if json_size != file_size:
        stored = info['stored_size']
        why = ''
        if (orientation in TRANSPOSING_ORIENTATIONS
                and json_size == tuple(stored or ())):
            why = ('; the json has the unrotated size: were the boxes drawn '
                   'without the EXIF rotation?')
        report.add(
            'warning', 'image size in the json differs from the file',
            f'{name}: json {json_size[0]}x{json_size[1]}, file '
            f'{file_size[0]}x{file_size[1]}{why}')


def check_dataset(source: Dict,
                  workers: int = 8,
                  progress: bool = True,
                  max_examples: int = 5) -> DatasetReport:
    """Check one data set of :func:`dataset_sources` (see the module
    docstring), decoding images in ``workers`` threads, with a progress bar
    on stdout; ``max_examples`` file names are kept per kind of problem."""
    report = DatasetReport(source['name'], source['ann_file'],
                           source['img_dir'], max_examples)
    try:
        coco = json.loads(get(source['ann_file']))
        if not isinstance(coco, dict) or 'images' not in coco:
            raise ValueError('no "images" list: not a COCO json')
    except Exception as e:
        report.add('error', 'unreadable annotation file',
                   f'{type(e).__name__}: {e}')
        return report
    images = coco['images']
    report.num_images = len(images)
    paths = [
        _join(source['img_dir'], str(img.get('file_name')))
        for img in images
    ]
    bar = None
    if progress and images:
        from fcos_mm.utils.progress import progress_bar
        bar = progress_bar(len(images), sys.stdout, prefix='images read')
    infos = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for info in pool.map(inspect_image_file, paths,
                             [source['backend']] * len(paths)):
            infos.append(info)
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.finish()
    if images and all(info.get('missing') or info.get('error')
                      for info in infos):
        report.add('error', 'no readable image at all (even '
                   "on_bad_image='skip' has nothing to train on)",
                   f'{len(images)} listed in {source["ann_file"]}, none '
                   f'readable in {source["img_dir"]}: is data_prefix.img '
                   f'right?')
    sizes = {}
    for img, info in zip(images, infos):
        _check_image(report, img, info)
        if info.get('width'):
            sizes[img.get('id')] = (info['width'], info['height'])
    _check_annotations(report, coco, sizes)
    return report


def check_datasets(cfg: Config,
                   splits: Sequence[str] = ('train', 'val', 'test'),
                   workers: int = 8,
                   progress: bool = True) -> List[DatasetReport]:
    """One report per data set of ``cfg`` used by ``splits`` (see
    :func:`dataset_sources` and :func:`check_dataset`).

    Raises:
        ValueError: The config has no data set for these splits.
    """
    sources = dataset_sources(cfg, splits)
    if not sources:
        raise ValueError(f'The config has no data set with an ann_file for '
                         f'{", ".join(splits)}.')
    return [check_dataset(source, workers, progress) for source in sources]


def format_reports(reports: Sequence[DatasetReport],
                   seconds: Optional[float] = None) -> str:
    """All reports and a last line with the verdict."""
    errors = sum(report.count('error') for report in reports)
    warnings = sum(report.count('warning') for report in reports)
    images = sum(report.num_images for report in reports)
    took = f' in {seconds:.1f} s' if seconds is not None else ''
    datasets = [report for report in reports
                if not isinstance(report, ClassesReport)]
    image_errors = sum(report.count('error') for report in datasets)
    verdict = ('training would stop on the errors above; fix them, or skip '
               'bad images with LoadImageFromFile(on_bad_image=\'skip\')'
               if image_errors else 'training would stop on the errors '
               'above; fix them' if errors else 'nothing would stop training')
    return '\n'.join([report.format() for report in reports] + [
        f'Checked {len(datasets)} data set(s), {images} images{took}: '
        f'{errors} error(s), {warnings} warning(s); {verdict}.'
    ])


def run_check(cfg: Config,
              splits: Sequence[str],
              workers: int = 8,
              progress: bool = True) -> Tuple[List[DatasetReport], str]:
    """Check and format, timing the check (for the tool): the config's
    classes and counts (:func:`class_problems`, a first report when it
    finds something), then each data set."""
    start = time.perf_counter()
    problems = class_problems(cfg, splits)
    reports = [ClassesReport(problems)] if problems else []
    reports += check_datasets(cfg, splits, workers, progress)
    check_level_balance(cfg, reports)
    return reports, format_reports(reports, time.perf_counter() - start)


#: Training images the level check reads (the first ones of the json).
LEVEL_CHECK_IMAGES = 500


def check_level_balance(cfg: Config,
                        reports: Sequence[DatasetReport],
                        max_images: int = LEVEL_CHECK_IMAGES,
                        max_share: Optional[float] = None) -> Optional[Dict]:
    """Warn, in the training set's report, when more than ``max_share``
    (default :data:`~fcos_mm.analysis.fcos_statistics.
    DOMINANT_LEVEL_SHARE`) of the positive locations fall on one level.

    The training assigner runs with the config's regress ranges on the
    first ``max_images`` training images, boxes resized by the config's
    pipeline (no random flips). Only for a model trained with an
    ``FCOSPointAssigner`` and a training set without errors; a data set that
    cannot be built is noted as ``info``. The warning names the level, its
    share and the proposal of
    :func:`~fcos_mm.analysis.fcos_statistics.propose_regress_ranges`
    as ``--cfg-options``.

    Args:
        cfg (Config): The config.
        reports (Sequence[DatasetReport]): :func:`check_datasets`' reports;
            the one named ``train`` (or ``train/...``) gets the warning.
        max_images (int): Images read at most.
        max_share (float, optional): Share that triggers the warning.

    Returns:
        dict or None: ``level`` (e.g. ``'P7'``), ``share``, ``positives``
        and ``proposal`` (a ``RangeProposal``) when it warned, else None.
    """
    import itertools
    import math

    from .fcos_statistics import (
        DOMINANT_LEVEL_SHARE,
        AssignmentSetting,
        assigner_settings,
        compute_statistics,
        dominant_level,
        format_ranges,
        proposal_cfg_options,
        propose_regress_ranges,
        samples_from_dataset,
    )
    model = cfg.get('model') or {}
    assigner = (model.get('train_cfg') or {}).get('assigner') or {}
    loader = cfg.get('train_dataloader') or {}
    train = [r for r in reports if 'train' in r.name.split('/')]
    if (not train or train[0].count('error') or 'dataset' not in loader
            or 'FCOSPointAssigner' not in str(assigner.get('type', ''))):
        return None
    report = train[0]
    settings = assigner_settings(cfg)
    try:
        samples, num_classes = samples_from_dataset(loader['dataset'])
        samples = list(itertools.islice(samples, max_images))
    except Exception as e:  # the checks above report what is wrong
        report.add('info', 'positives per level not checked (the training '
                   'set cannot be built)', f'{type(e).__name__}: {e}')
        return None
    setting = AssignmentSetting(
        'config', settings['strides'], settings['regress_ranges'],
        settings['center_sampling'], settings['center_sample_radius'])
    stats = compute_statistics(samples, num_classes, [setting])['config']
    max_share = DOMINANT_LEVEL_SHARE if max_share is None else max_share
    dominant = dominant_level(stats, max_share)
    if dominant is None:
        return None
    level, share = dominant
    name = f'P{int(math.log2(settings["strides"][level]))}'
    proposal = propose_regress_ranges(
        samples,
        num_classes,
        settings['regress_ranges'],
        strides=settings['strides'],
        center_sampling=settings['center_sampling'],
        center_sample_radius=settings['center_sample_radius'])
    count = stats.positives_per_level[level]
    new_share = max(proposal.stats.positives_per_level) / max(
        1, proposal.stats.num_positives)
    report.add(
        'warning', 'most positive locations on one level (regress ranges '
        'that do not fit the resized boxes)',
        f'{name}: {count} of {stats.num_positives} ({100 * share:.0f}%) '
        f'with regress_ranges '
        f'{format_ranges(settings["regress_ranges"])}; ranges that fit '
        f'(fullest level {100 * new_share:.0f}%; tools/analysis_tools/'
        f'fcos_statistics.py --propose-ranges): --cfg-options '
        f'{proposal_cfg_options(proposal)}')
    return dict(
        level=name, share=share, positives=count, proposal=proposal)


# -- classes and counts, before the first step ------------------------------
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
    import difflib
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


class ClassesReport(DatasetReport):
    """:func:`class_problems` as a report of :func:`run_check`, each
    problem printed whole."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        super().__init__('classes and counts', '', '')
        self.config_problems = list(problems)
        for problem in problems:
            self.add(problem.severity, problem.key, problem.message)

    def format(self) -> str:
        """The header and one line per problem."""
        return ('classes and counts (the config against its annotation '
                'files):\n' + format_problems(self.config_problems))


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
