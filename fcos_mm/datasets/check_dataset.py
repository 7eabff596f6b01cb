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
The config's classes and counts against its annotation files and the head
come first (:mod:`fcos_mm.datasets.class_check`, the check ``tools/train.py``
and ``tools/test.py`` make before the first step; no image is read). Images
on disk are checked by :class:`~fcos_mm.engine.hooks.CheckImagesHook` (a
``stat`` each, before training and testing) and, decoded, by
:func:`check_dataset`.

For an FCOS model, ``tools/misc/check_dataset.py`` also runs
:func:`fcos_mm.analysis.level_check.check_level_balance`: the training
assigner on the training boxes after the pipeline's resize, warning when
most positive locations fall on one level, with regress ranges that spread
them (``tools/analysis_tools/fcos_statistics.py --propose-ranges``).

``tools/misc/check_dataset.py`` prints the report and exits 1 on an error.
"""
import json
import sys
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.fileio import get

from fcos_mm.datasets.class_check import (
    LOADER_KEYS,
    SEVERITIES,
    ConfigProblem,
    _join,
    _leaf_datasets,
    class_problems,
    format_problems,
)
from fcos_mm.datasets.coco import is_coco_bbox
from fcos_mm.datasets.image_io import (
    TRANSPOSING_ORIENTATIONS,
    inspect_image_file,
)
from fcos_mm.utils.stopwatch import Stopwatch


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
              progress: bool = True,
              model_checks: Sequence[Callable] = ()
              ) -> Tuple[List[DatasetReport], str]:
    """Check and format, timing the check (for the tool): the config's
    classes and counts (:func:`class_problems`, a first report when it
    finds something), then each data set, then each of ``model_checks``
    (``check(cfg, reports)``, adding to the reports: e.g.
    :func:`fcos_mm.analysis.level_check.check_level_balance`)."""
    with Stopwatch() as watch:
        problems = class_problems(cfg, splits)
        reports = [ClassesReport(problems)] if problems else []
        reports += check_datasets(cfg, splits, workers, progress)
        for check in model_checks:
            check(cfg, reports)
    return reports, format_reports(reports, watch.seconds)


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
