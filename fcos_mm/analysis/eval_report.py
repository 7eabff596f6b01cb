"""The evaluation report: one self-contained ``report.html`` (inline SVG,
embedded data, a few lines of plain JavaScript to sort tables; no network,
no server), ``report.json`` and a CSV per table.

:func:`build_report` gathers every section from one matching pass
(:mod:`fcos_mm.analysis.detection_analysis`), the COCO evaluator's 12
numbers and, for FCOS, :mod:`fcos_mm.analysis.fcos_diagnostics`;
:func:`write_report` writes the files. The thresholds each section uses
are part of the report and printed next to it.
"""
import base64
import csv
import datetime
import html
import io
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import detection_analysis as da
from .fcos_diagnostics import REASON_NAMES, REASONS

#: pycocotools' 12 numbers, in ``stats`` order.
COCO_NAMES = ('AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large',
              'AR@1', 'AR@10', 'AR@100', 'AR_small', 'AR_medium',
              'AR_large')


def _float(value) -> Optional[float]:
    """A JSON-able float (None for nan / inf)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _floats(values) -> List[Optional[float]]:
    return [_float(value) for value in np.asarray(values).ravel()]


def coco_numbers(coco_eval) -> dict:
    """The 12 numbers of a ``COCOeval`` (names follow its ``maxDets``)
    and the per-class AP at all / small / medium / large sizes (mmdet's
    classwise table: last ``maxDets``)."""
    max_dets = list(coco_eval.params.maxDets)
    names = list(COCO_NAMES)
    names[6:9] = [f'AR@{num}' for num in max_dets[:3]]
    precision = coco_eval.eval['precision']  # (T, R, K, A, M)

    def mean(values):
        values = values[values > -1]
        return float(values.mean()) if values.size else None

    per_class = [[mean(precision[:, :, label, area, -1])
                  for area in range(4)]
                 for label in range(precision.shape[2])]
    return dict(names=names, values=_floats(coco_eval.stats[:12]),
                per_class_sizes=per_class)


def build_report(data: da.EvalData,
                 coco: Optional[dict] = None,
                 meta: Optional[dict] = None,
                 diagnostics: Optional[dict] = None,
                 training: Optional[dict] = None,
                 compare: Optional[da.EvalData] = None,
                 num_gallery: int = 12,
                 max_dets: int = 1000) -> dict:
    """Every section of the report, as JSON-able data.

    Args:
        data (EvalData): The evaluation.
        coco (dict, optional): :func:`coco_numbers` of the evaluator.
        meta (dict, optional): Config, checkpoint, versions, times.
        diagnostics (dict, optional): For the FCOS section: ``assignment``
            (:func:`~fcos_mm.analysis.fcos_diagnostics.assign_levels`'s
            result), the head's ``strides`` and ``regress_ranges``.
        training (dict, optional): ``losses`` / ``metrics``: name ->
            ``(steps, values)`` (:class:`~fcos_mm.analysis.Curves`).
        compare (EvalData, optional): Another run on the same images.
        num_gallery (int): Images (boxes) per gallery.
        max_dets (int): Detections per image and class matched.

    Returns:
        dict: The report (its keys are the sections).
    """
    tic = time.perf_counter()
    matching = da.match_detections(data, max_dets=max_dets)
    aps, precision = da.class_precision(data, matching)
    counts = da.gt_counts(data)
    overall_f1 = da.best_f1(data, matching)
    score_thr = (overall_f1['threshold']
                 if np.isfinite(overall_f1['threshold']) else 0.5)
    classes = []
    images_per_class = [
        len(np.unique(data.gt_image[(data.gt_labels == label)
                                    & ~data.gt_ignore]))
        for label in range(data.num_classes)]
    sizes = (coco or {}).get('per_class_sizes')
    for label, name in enumerate(data.classes):
        best = da.best_f1(data, matching, label=label)
        row = dict(name=name, ap=_float(np.mean(aps[:, label])),
                   ap50=_float(aps[0, label]), ap75=_float(aps[5, label]),
                   ap_small=None, ap_medium=None, ap_large=None,
                   gts=int(counts[label]), images=images_per_class[label],
                   dets=int((data.det_labels == label).sum()),
                   f1_threshold=_float(best['threshold']),
                   precision=_float(best['precision']),
                   recall=_float(best['recall']), f1=_float(best['f1']))
        if sizes is not None and label < len(sizes):
            row['ap_small'], row['ap_medium'], row['ap_large'] = \
                sizes[label][1:]
        classes.append(row)
    curves = da.pr_curves(data, matching, precision)
    score_overall = da.score_curves(data, matching)
    errors = da.tide_errors(data, matching)
    tide = da.tide_breakdown(data, matching, errors)
    confusion = da.confusion_matrix(data, matching, score_thr)
    image_aps = da.image_ap(data, matching)
    report = dict(
        meta=dict(meta or {}),
        thresholds=dict(
            pr_iou=list(curves), f1_iou=0.5, max_dets=max_dets,
            confusion=dict(score=score_thr, iou=0.5),
            tide=dict(foreground=0.5, background=0.1),
            gallery_fp_iou=0.5),
        coco=coco and dict(names=coco['names'], values=coco['values']),
        summary=dict(
            images=data.num_images, boxes=int(counts.sum()),
            ignored_boxes=int(data.gt_ignore.sum()),
            detections=int(len(data.det_scores)),
            map=_float(np.nanmean(aps)) if np.isfinite(aps).any()
            else None,
            best_f1=dict((k, _float(v)) for k, v in overall_f1.items())),
        classes=classes,
        pr_curves={name: [_floats(np.round(row, 4)) for row in value]
                   for name, value in curves.items()},
        score_curves={k: _floats(np.round(v, 4))
                      for k, v in score_overall.items()},
        class_score_curves=[
            {k: _floats(np.round(v, 4)) for k, v in da.score_curves(
                data, matching, label=label).items() if k != 'score'}
            for label in range(data.num_classes)],
        confusion=dict(labels=list(data.classes) + ['background'],
                       counts=confusion['counts'].tolist(),
                       normalized=[_floats(np.round(row, 4)) for row in
                                   confusion['normalized']],
                       ignored=confusion['ignored']),
        tide=dict(
            ap50=_float(tide['ap']), counts=tide['counts'],
            dap={k: _float(v) for k, v in tide['dap'].items()},
            per_class=[dict(name=name, ap50=_float(tide['class_ap'][label]),
                            **{k: _float(v[label])
                               for k, v in tide['class_dap'].items()})
                       for label, name in enumerate(data.classes)]),
        images=_image_rows(data, image_aps, errors, score_thr),
    )
    report['galleries'] = _galleries(data, matching, errors, image_aps,
                                     num_gallery, score_thr)
    if diagnostics is not None:
        from .fcos_diagnostics import fcos_diagnostics
        report['fcos'] = fcos_diagnostics(
            data, matching, diagnostics['assignment'],
            diagnostics['strides'], diagnostics['regress_ranges'],
            num_examples=num_gallery)
        report['fcos']['reasons'] = {name: REASON_NAMES[name]
                                     for name in REASONS}
        report['fcos']['examples'] = [
            _box_item(data, gt, kind='gt',
                      note=REASON_NAMES[diagnostics['assignment']['reason']
                                        [gt]])
            for gt in report['fcos']['examples']]
    if training:
        report['training'] = {
            group: {name: [list(map(float, steps)), _floats(values)]
                    for name, (steps, values) in series.items()}
            for group, series in training.items() if series}
    if compare is not None:
        report['compare'] = _compare(data, aps, image_aps, compare,
                                     max_dets, num_gallery)
    report['meta']['analysis_seconds'] = round(time.perf_counter() - tic, 2)
    return report


def _false_positives(errors: dict) -> np.ndarray:
    """``(D,)`` bool: a TIDE error (not a true positive, not ignored)."""
    return np.isin(errors['det_type'], ('cls', 'loc', 'both', 'dupe',
                                        'bkg'))


def _image_rows(data: da.EvalData, image_aps: np.ndarray, errors: dict,
                score_thr: float) -> List[dict]:
    """Per image: id, path, AP50, boxes, false positives above
    ``score_thr``."""
    boxes = np.bincount(data.gt_image[~data.gt_ignore],
                        minlength=data.num_images)
    false_pos = np.bincount(
        data.det_image[_false_positives(errors) &
                       (data.det_scores >= score_thr)],
        minlength=data.num_images)
    return [dict(id=int(data.img_ids[index]), path=data.img_paths[index],
                 ap50=_float(image_aps[index]), boxes=int(boxes[index]),
                 false_positives=int(false_pos[index]))
            for index in range(data.num_images)]


def _box_item(data: da.EvalData, index: int, kind: str,
              note: str = '') -> dict:
    """A gallery entry of one box (``kind='gt'``) or detection."""
    if kind == 'gt':
        image, box = int(data.gt_image[index]), data.gt_boxes[index]
        label, score = int(data.gt_labels[index]), None
    else:
        image, box = int(data.det_image[index]), data.det_boxes[index]
        label = int(data.det_labels[index])
        score = _float(data.det_scores[index])
    return dict(image=image, box=_floats(np.round(box, 1)),
                label=data.classes[label], score=score, note=note,
                kind=kind)


def _galleries(data, matching, errors, image_aps, num, score_thr) -> dict:
    """Worst images by AP50 (then most false positives above the F1
    threshold), highest-scoring false positives, missed boxes (largest
    first)."""
    det_type = errors['det_type']
    false_pos = _false_positives(errors)
    fp_count = np.bincount(data.det_image[false_pos & (data.det_scores >=
                                                       score_thr)],
                           minlength=data.num_images)
    with_boxes = np.flatnonzero(np.isfinite(image_aps))
    order = np.lexsort((-fp_count[with_boxes], image_aps[with_boxes]))
    worst = [dict(image=int(image), ap50=_float(image_aps[image]),
                  false_positives=int(fp_count[image]))
             for image in with_boxes[order][:num]]
    fps = np.flatnonzero(false_pos)
    fps = fps[np.argsort(-data.det_scores[fps], kind='stable')][:num]
    missed = np.flatnonzero(errors['gt_missed'])
    missed = missed[np.argsort(-data.gt_areas[missed], kind='stable')][:num]
    return dict(
        worst=worst,
        false_positives=[_box_item(data, det, 'det',
                                   da.TIDE_NAMES[det_type[det]])
                         for det in fps],
        missed=[_box_item(data, gt, 'gt', 'missed') for gt in missed])


def _compare(data, aps, image_aps, other: da.EvalData, max_dets: int,
             num: int) -> dict:
    """Per-class AP change and the images fixed or broken by this run
    against ``other`` (same ground truth): AP50 of the image up or down
    by at least 0.5."""
    if not np.array_equal(other.img_ids, data.img_ids):
        raise ValueError('--compare: the two runs evaluated different '
                         'images')
    other_matching = da.match_detections(other, max_dets=max_dets)
    other_aps = da.class_ap(other, other_matching)
    other_image = da.image_ap(other, other_matching)
    delta = image_aps - other_image
    finite = np.flatnonzero(np.isfinite(delta))
    # (pycocotools' precision 1 is 1 - 2e-16: a tolerance)
    fixed = finite[delta[finite] >= 0.5 - 1e-9]
    broken = finite[delta[finite] <= -0.5 + 1e-9]
    fixed = fixed[np.argsort(-delta[fixed], kind='stable')]
    broken = broken[np.argsort(delta[broken], kind='stable')]
    return dict(
        classes=[dict(name=name, ap=_float(np.mean(aps[:, label])),
                      other_ap=_float(np.mean(other_aps[:, label])),
                      change=_float(np.mean(aps[:, label]) -
                                    np.mean(other_aps[:, label])))
                 for label, name in enumerate(data.classes)],
        map=_float(np.nanmean(aps)), other_map=_float(np.nanmean(other_aps)),
        num_fixed=int(len(fixed)), num_broken=int(len(broken)),
        fixed=[dict(image=int(i), ap50=_float(image_aps[i]),
                    other_ap50=_float(other_image[i])) for i in fixed[:num]],
        broken=[dict(image=int(i), ap50=_float(image_aps[i]),
                     other_ap50=_float(other_image[i]))
                for i in broken[:num]])


# ---------------------------------------------------------------- writing

def write_csv(path: str, header: Sequence[str], rows) -> None:
    """A CSV file of ``rows`` (lists) under ``header``."""
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for row in rows:
            writer.writerow(['' if value is None else value
                             for value in row])


def write_tables(report: dict, out_dir: str) -> List[str]:
    """A CSV of every table of ``report`` in ``out_dir``; their paths."""
    paths = []

    def table(name, header, rows):
        path = osp.join(out_dir, name)
        write_csv(path, header, rows)
        paths.append(path)

    if report.get('coco'):
        table('coco.csv', ['metric', 'value'],
              zip(report['coco']['names'], report['coco']['values']))
    keys = ['name', 'ap', 'ap50', 'ap75', 'ap_small', 'ap_medium',
            'ap_large', 'gts', 'images', 'dets', 'f1_threshold',
            'precision', 'recall', 'f1']
    table('classes.csv', keys,
          ([row[key] for key in keys] for row in report['classes']))
    labels = report['confusion']['labels']
    table('confusion_counts.csv', ['true \\ predicted'] + labels,
          ([label] + row for label, row in
           zip(labels, report['confusion']['counts'])))
    table('confusion_normalized.csv', ['true \\ predicted'] + labels,
          ([label] + row for label, row in
           zip(labels, report['confusion']['normalized'])))
    tide_keys = ['name', 'ap50'] + list(da.TIDE_TYPES)
    table('tide.csv', tide_keys,
          [['all', report['tide']['ap50']] +
           [report['tide']['dap'][key] for key in da.TIDE_TYPES]] +
          [[row[key] for key in tide_keys]
           for row in report['tide']['per_class']])
    table('images.csv', ['id', 'path', 'ap50', 'boxes', 'false_positives'],
          ([row['id'], row['path'], row['ap50'], row['boxes'],
            row['false_positives']] for row in report['images']))
    if report.get('fcos'):
        fcos = report['fcos']
        level_keys = ['level', 'stride', 'regress_range', 'boxes',
                      'recalled', 'recall', 'median_side']
        table('fcos_levels.csv', level_keys,
              ([row[key] for key in level_keys] for row in fcos['levels']))
        lost_keys = ['name', 'boxes', 'total'] + list(REASONS)
        table('fcos_unlearnable.csv', ['group'] + lost_keys,
              [['class'] + [row[key] for key in lost_keys]
               for row in fcos['unlearnable']['per_class']] +
              [['size'] + [row[key] for key in lost_keys]
               for row in fcos['unlearnable']['per_size']])
    if report.get('compare'):
        table('compare_classes.csv', ['name', 'ap', 'other_ap', 'change'],
              ([row['name'], row['ap'], row['other_ap'], row['change']]
               for row in report['compare']['classes']))
    return paths


def write_report(report: dict, out_dir: str, data: da.EvalData,
                 thumb_size: int = 320) -> Dict[str, str]:
    """``report.html``, ``report.json`` and the CSVs in ``out_dir``.

    Args:
        report (dict): :func:`build_report`'s result.
        out_dir (str): Folder (made if missing).
        data (EvalData): The evaluation (the galleries' images and boxes).
        thumb_size (int): Longest side of a gallery picture.

    Returns:
        dict: ``html``, ``json`` paths and ``csv`` (a list).
    """
    os.makedirs(out_dir, exist_ok=True)
    json_path = osp.join(out_dir, 'report.json')
    with open(json_path, 'w') as file:
        json.dump(report, file, indent=1)
    csvs = write_tables(report, out_dir)
    html_path = osp.join(out_dir, 'report.html')
    with open(html_path, 'w') as file:
        file.write(render_html(report, data, thumb_size))
    return dict(html=html_path, json=json_path, csv=csvs)


# ---------------------------------------------------------------- HTML

PALETTE = ('#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd',
           '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22')

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 2em 3em;color:#222}
h1{margin:.6em 0 .2em}h2{border-bottom:2px solid #ddd;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3;cursor:pointer;user-select:none}
td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:90%}.grid{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;padding:4px;font-size:85%;max-width:330px}
nav a{margin-right:1em}.bad{color:#b00}.good{color:#070}
svg text{font:11px system-ui,sans-serif}
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.title = 'click to sort';
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === 'desc' ? 1 : -1;
      th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent;
        var y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) { return dir * (nx - ny); }
        if (isNaN(nx) !== isNaN(ny)) { return isNaN(nx) ? 1 : -1; }
        return dir * x.localeCompare(y);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
var data = JSON.parse(document.getElementById('report-data').textContent);
document.getElementById('loaded').textContent =
  'data: ' + data.classes.length + ' classes, ' + data.images.length +
  ' images';
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return '-'
    if isinstance(value, str):
        return _esc(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f'{value:.{digits}f}'


def _cell(value, digits: int = 3) -> str:
    sort = '' if value is None or isinstance(value, str) else \
        f' data-v="{value}"'
    return f'<td{sort}>{_fmt(value, digits)}</td>'


def _table(header: Sequence[str], rows, sortable: bool = True,
           digits: int = 3) -> str:
    head = ''.join(f'<th>{_esc(name)}</th>' for name in header)
    body = []
    for row in rows:
        cells = [f'<td>{_esc(row[0])}</td>'] + [
            _cell(value, digits) for value in row[1:]]
        body.append('<tr>' + ''.join(cells) + '</tr>')
    cls = ' class="sortable"' if sortable else ''
    return (f'<table{cls}><thead><tr>{head}</tr></thead><tbody>'
            + ''.join(body) + '</tbody></table>')


def line_chart(series: Sequence[tuple], title: str, xlabel: str,
               ylabel: str, width: int = 320, height: int = 220,
               xlim=(0.0, 1.0), ylim=(0.0, 1.0),
               marker: Optional[float] = None) -> str:
    """An SVG line chart of ``(name, xs, ys)`` series (None gaps)."""
    left, right, top, bottom = 40, 10, 20, 32
    plot_w, plot_h = width - left - right, height - top - bottom
    x0, x1 = xlim
    y0, y1 = ylim
    x_span = (x1 - x0) or 1.0
    y_span = (y1 - y0) or 1.0

    def px(x):
        return left + (x - x0) / x_span * plot_w

    def py(y):
        return top + plot_h - (y - y0) / y_span * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>{_esc(title)}</title>',
             f'<text x="{left}" y="13" font-weight="bold">{_esc(title)}'
             '</text>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"'
             ' fill="none" stroke="#999"/>']
    for frac in (0, 0.5, 1):
        value = y0 + frac * y_span
        parts.append(f'<text x="{left - 4}" y="{py(value) + 4:.1f}" '
                     f'text-anchor="end">{value:.3g}</text>')
        parts.append(f'<text x="{px(x0 + frac * x_span):.1f}" '
                     f'y="{top + plot_h + 13}" text-anchor="middle">'
                     f'{x0 + frac * x_span:.3g}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 3}" '
                 f'text-anchor="middle">{_esc(xlabel)}</text>')
    parts.append(f'<text x="10" y="{top + plot_h / 2}" text-anchor="middle"'
                 f' transform="rotate(-90 10 {top + plot_h / 2})">'
                 f'{_esc(ylabel)}</text>')
    if marker is not None:
        parts.append(f'<line x1="{px(marker):.1f}" x2="{px(marker):.1f}" '
                     f'y1="{top}" y2="{top + plot_h}" stroke="#888" '
                     'stroke-dasharray="3,3"/>')
    for index, (name, xs, ys) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        points = ' '.join(f'{px(x):.1f},{py(y):.1f}'
                          for x, y in zip(xs, ys)
                          if x is not None and y is not None)
        if points:
            parts.append(f'<polyline fill="none" stroke="{color}" '
                         f'stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{left + plot_w - 4}" '
                     f'y="{top + 12 + 12 * index}" text-anchor="end" '
                     f'fill="{color}">{_esc(name)}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def bar_chart(items: Sequence[tuple], title: str, width: int = 420) -> str:
    """A horizontal SVG bar chart of ``(label, value)``."""
    row_h, left = 20, 150
    height = 24 + row_h * len(items)
    top = max([abs(value) for _, value in items if value is not None] +
              [1e-9])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>{_esc(title)}</title>',
             f'<text x="0" y="13" font-weight="bold">{_esc(title)}</text>']
    for index, (label, value) in enumerate(items):
        y = 20 + index * row_h
        value = value or 0.0
        bar = max(value, 0) / top * (width - left - 60)
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">'
                     f'{_esc(label)}</text><rect x="{left}" y="{y + 2}" '
                     f'width="{bar:.1f}" height="{row_h - 6}" '
                     f'fill="{PALETTE[index % len(PALETTE)]}"/>'
                     f'<text x="{left + bar + 4:.1f}" y="{y + 13}">'
                     f'{value:.4f}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def heatmap(labels: Sequence[str], counts, normalized,
            title: str, cell: int = 28, show_fraction: bool = False) -> str:
    """An SVG confusion matrix: colour by row fraction, the counts (or
    with ``show_fraction`` the fractions) written."""
    size = len(labels)
    cell = max(8, min(cell, 900 // max(size, 1)))
    left, top = 110, 110
    # room on the right for the last column's slanted name
    width, height = left + cell * size + 70, top + cell * size + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>{_esc(title)}</title>',
             f'<text x="0" y="13" font-weight="bold">{_esc(title)}</text>',
             f'<text x="{left}" y="30">predicted &#8594;</text>',
             f'<text x="0" y="{top - 6}">true &#8595;</text>']
    for index, label in enumerate(labels):
        centre = index * cell + cell / 2
        parts.append(f'<text x="{left - 4}" y="{top + centre + 4:.1f}" '
                     f'text-anchor="end">{_esc(label[:14])}</text>')
        parts.append(f'<text x="{left + centre:.1f}" y="{top - 4}" '
                     f'transform="rotate(-60 {left + centre:.1f} '
                     f'{top - 4})">{_esc(label[:14])}</text>')
    for row in range(size):
        for col in range(size):
            frac = normalized[row][col] or 0.0
            shade = int(255 - 200 * frac)
            x, y = left + col * cell, top + row * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" '
                         f'height="{cell}" fill="rgb({shade},{shade},255)" '
                         f'stroke="#eee"><title>{_esc(labels[row])} as '
                         f'{_esc(labels[col])}: {counts[row][col]} '
                         f'({frac:.2f})</title></rect>')
            if counts[row][col] and cell >= 18:
                text = (f'{frac:.2f}'.lstrip('0') if show_fraction
                        else counts[row][col])
                parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}"'
                             f' text-anchor="middle">{text}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def _thumbnail(path: str, size: int):
    """``(data URI, scale, (w, h))`` of an image file shrunk to ``size``,
    or None when it cannot be read."""
    try:
        from PIL import Image

        from fcos_mm.datasets.image_io import decode_image
        with open(path, 'rb') as file:
            img, _ = decode_image(file.read())
        picture = Image.fromarray(img[:, :, ::-1])
    except Exception:  # a missing or unreadable file: drawn as grey
        return None
    scale = min(1.0, size / max(picture.size))
    picture = picture.resize((max(1, round(picture.width * scale)),
                              max(1, round(picture.height * scale))))
    buffer = io.BytesIO()
    picture.save(buffer, format='JPEG', quality=75)
    uri = 'data:image/jpeg;base64,' + base64.b64encode(
        buffer.getvalue()).decode()
    return uri, scale, picture.size


def draw_image(data: da.EvalData, image: int, size: int,
               highlight: Optional[dict] = None,
               score_thr: float = 0.0) -> str:
    """An SVG of one image with its boxes (green) and detections above
    ``score_thr`` (red, dashed), ``highlight`` (a gallery item) thick."""
    height, width = (int(v) for v in data.img_sizes[image])
    thumb = _thumbnail(data.img_paths[image], size) if data.img_paths[
        image] else None
    if thumb is None:
        scale = size / max(width, height, 1)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        backdrop = (f'<rect width="{w}" height="{h}" fill="#bbb"/>'
                    f'<text x="4" y="14">image not found</text>')
    else:
        uri, scale, (w, h) = thumb
        backdrop = f'<image href="{uri}" width="{w}" height="{h}"/>'
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" '
             f'height="{h}">', backdrop]

    def rect(box, color, dash='', thick=1.5, label=''):
        x1, y1, x2, y2 = (v * scale for v in box)
        parts.append(f'<rect x="{x1:.1f}" y="{y1:.1f}" '
                     f'width="{max(x2 - x1, 1):.1f}" '
                     f'height="{max(y2 - y1, 1):.1f}" fill="none" '
                     f'stroke="{color}" stroke-width="{thick}"'
                     f'{dash}><title>{_esc(label)}</title></rect>')

    for gt in np.flatnonzero(data.gt_image == image):
        rect(data.gt_boxes[gt], '#0a0', label=data.classes[
            data.gt_labels[gt]])
    dets = np.flatnonzero((data.det_image == image) &
                          (data.det_scores >= score_thr))
    for det in dets:
        rect(data.det_boxes[det], '#e00', ' stroke-dasharray="4,2"',
             label=f'{data.classes[data.det_labels[det]]} '
             f'{data.det_scores[det]:.2f}')
    if highlight is not None:
        rect(highlight['box'], '#fc0' if highlight['kind'] == 'gt'
             else '#f0f', thick=3.5, label=highlight['label'])
    parts.append('</svg>')
    return ''.join(parts)


def _gallery(data, items, thumb_size, score_thr, caption) -> str:
    if not items:
        return '<p class="note">(none)</p>'
    cards = []
    for item in items:
        image = item['image']
        cards.append(
            '<div class="card">' + draw_image(
                data, image, thumb_size,
                item if 'box' in item else None, score_thr) +
            f'<br>image {int(data.img_ids[image])} '
            f'<span class="note">{_esc(osp.basename(data.img_paths[image]))}'
            f'</span><br>{caption(item)}</div>')
    return '<div class="grid">' + ''.join(cards) + '</div>'


def render_html(report: dict, data: da.EvalData,
                thumb_size: int = 320) -> str:
    """The report page (module docstring)."""
    meta = report['meta']
    thr = report['thresholds']
    score_thr = thr['confusion']['score']
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<title>Evaluation report</title>', f'<style>{STYLE}</style>',
           '</head><body>', '<h1>Evaluation report</h1>']
    sections = [('summary', 'Summary'), ('classes', 'Per class'),
                ('curves', 'PR and score curves'),
                ('confusion', 'Confusion matrix'),
                ('errors', 'Error breakdown'), ('galleries', 'Galleries')]
    if report.get('fcos'):
        sections.append(('fcos', 'FCOS diagnostics'))
    if report.get('training'):
        sections.append(('training', 'Training curves'))
    if report.get('compare'):
        sections.append(('compare', 'Comparison'))
    out.append('<nav>' + ''.join(f'<a href="#{key}">{name}</a>'
                                 for key, name in sections) + '</nav>')
    # summary
    summary = report['summary']
    out.append('<h2 id="summary">Summary</h2>')
    rows = [(key, str(meta[key])) for key in (
        'config', 'checkpoint', 'predictions', 'backend', 'versions',
        'eval_seconds', 'analysis_seconds', 'created') if key in meta]
    out.append('<table>' + ''.join(
        f'<tr><th>{_esc(k)}</th><td style="text-align:left">{_esc(v)}</td>'
        '</tr>' for k, v in rows) + '</table>')
    out.append(f'<p>{summary["images"]} images, {summary["boxes"]} boxes '
               f'({summary["ignored_boxes"]} crowd/ignored left out), '
               f'{summary["detections"]} detections. '
               f'<span id="loaded" class="note"></span></p>')
    if report.get('coco'):
        coco = report['coco']
        out.append('<p class="note">COCO evaluator (the numbers '
                   'tools/test.py prints):</p>')
        out.append(_table(['metric', 'value'],
                          zip(coco['names'], coco['values']), False))
    best = summary['best_f1']
    out.append(f'<p>Best F1 over all classes (IoU {thr["f1_iou"]}): '
               f'<b>{_fmt(best["f1"])}</b> at score &ge; '
               f'<b>{_fmt(best["threshold"])}</b> (precision '
               f'{_fmt(best["precision"])}, recall {_fmt(best["recall"])}).'
               ' This threshold is the one the confusion matrix and the '
               'galleries use.</p>')
    # per class
    out.append('<h2 id="classes">Per class</h2><p class="note">AP averaged '
               'over IoU 0.5:0.95 from the matching pass (up to '
               f'{thr["max_dets"]} detections per image and class); AP '
               'small/medium/large from the COCO evaluator; best-F1 '
               f'threshold and P/R/F1 there at IoU {thr["f1_iou"]}. Click '
               'a column to sort.</p>')
    keys = ['name', 'ap', 'ap50', 'ap75', 'ap_small', 'ap_medium',
            'ap_large', 'gts', 'images', 'dets', 'f1_threshold',
            'precision', 'recall', 'f1']
    out.append(_table(['class', 'AP', 'AP50', 'AP75', 'AP_s', 'AP_m',
                       'AP_l', 'boxes', 'images', 'dets', 'F1 thr',
                       'P', 'R', 'F1'],
                      ([row[key] for key in keys]
                       for row in report['classes'])))
    # curves
    out.append('<h2 id="curves">PR and score curves</h2><p class="note">'
               'Precision at the 101 COCO recall points (envelope), at IoU '
               '0.5, 0.75 and averaged over 0.5:0.95; overall is the mean '
               'over classes. Score curves: detections with score &ge; the '
               f'threshold, all classes pooled, IoU {thr["f1_iou"]}; the '
               'dashed line is the best-F1 threshold.</p><div class="grid">')
    recall = list(np.round(da.REC_THRS, 2))
    pr = report['pr_curves']
    out.append(line_chart([(f'IoU {name}', recall, pr[name][-1])
                           for name in pr], 'all classes', 'recall',
                          'precision'))
    sc = report['score_curves']
    out.append(line_chart([(key, sc['score'], sc[key])
                           for key in ('precision', 'recall', 'f1')],
                          'P / R / F1 vs score', 'score threshold', 'value',
                          marker=best['threshold']))
    out.append('</div><div class="grid">')
    for label, row in enumerate(report['classes']):
        if row['gts']:
            out.append(line_chart(
                [(f'{name}', recall, pr[name][label]) for name in pr],
                f'{row["name"]} (AP50 {_fmt(row["ap50"])})', 'recall',
                'precision', width=240, height=170))
    out.append('</div><p class="note">Per class, against the score '
               'threshold (dashed: the class\'s best-F1 threshold):</p>'
               '<div class="grid">')
    for label, row in enumerate(report['classes']):
        if row['gts']:
            curves = report['class_score_curves'][label]
            out.append(line_chart(
                [(key, sc['score'], curves[key])
                 for key in ('precision', 'recall', 'f1')],
                f'{row["name"]} (best F1 {_fmt(row["f1"])})',
                'score threshold', 'value', width=240, height=170,
                marker=row['f1_threshold']))
    out.append('</div>')
    # confusion
    conf = report['confusion']
    out.append('<h2 id="confusion">Confusion matrix</h2><p class="note">'
               f'Detections with score &ge; {_fmt(score_thr)}, IoU &ge; '
               f'{thr["confusion"]["iou"]}; each detection and each box is '
               'counted once: first matched within its class, then to a box '
               'of another class; unmatched detections are the background '
               'row, unmatched boxes the background column. Colour: '
               f'fraction of the row. {conf["ignored"]} detections on '
               'crowd/ignored boxes left out.</p>')
    out.append('<div class="grid">' + heatmap(
        conf['labels'], conf['counts'], conf['normalized'],
        'counts (colour: row-normalised)') + heatmap(
            conf['labels'], conf['counts'], conf['normalized'],
            'normalised by row (true class)', show_fraction=True) + '</div>')
    # errors
    tide = report['tide']
    out.append('<h2 id="errors">Error breakdown (TIDE)</h2><p class="note">'
               'dAP: AP50 gained if that error type alone were fixed '
               f'(foreground IoU {thr["tide"]["foreground"]}, background '
               f'IoU {thr["tide"]["background"]}); base AP50 '
               f'{_fmt(tide["ap50"])}.</p>')
    out.append(bar_chart([(f'{da.TIDE_NAMES[key]} ({tide["counts"][key]})',
                           tide['dap'][key]) for key in da.TIDE_TYPES],
                         'dAP50 by error type (count)'))
    out.append(_table(['class', 'AP50'] + [da.TIDE_NAMES[key]
                                           for key in da.TIDE_TYPES],
                      ([row['name'], row['ap50']] +
                       [row[key] for key in da.TIDE_TYPES]
                       for row in tide['per_class'])))
    # galleries
    gal = report['galleries']
    out.append('<h2 id="galleries">Galleries</h2><p class="note">Green: '
               'ground truth; red dashed: detections with score &ge; '
               f'{_fmt(score_thr)}; thick: the item.</p>')
    out.append('<h3>Worst images by AP50</h3>')
    out.append(_gallery(data, gal['worst'], thumb_size, score_thr,
                        lambda item: f'AP50 {_fmt(item["ap50"])}, '
                        f'{item["false_positives"]} false positives'))
    out.append('<h3>Highest-scoring false positives</h3>')
    out.append(_gallery(data, gal['false_positives'], thumb_size, 0.0,
                        lambda item: f'{_esc(item["label"])} '
                        f'{_fmt(item["score"], 2)}: {_esc(item["note"])}'))
    out.append('<h3>Missed boxes (largest first)</h3>')
    out.append(_gallery(data, gal['missed'], thumb_size, score_thr,
                        lambda item: f'{_esc(item["label"])} missed'))
    if report.get('fcos'):
        out.append(_fcos_html(report['fcos'], data, thumb_size, score_thr))
    if report.get('training'):
        out.append('<h2 id="training">Training curves</h2>'
                   '<div class="grid">')
        for group, series in report['training'].items():
            for name, (steps, values) in series.items():
                finite = [v for v in values if v is not None]
                if not steps or not finite:
                    continue
                out.append(line_chart(
                    [(name, steps, values)], f'{group}: {name}', 'step',
                    name, xlim=(min(steps), max(steps) or 1),
                    ylim=(min(0.0, min(finite)), max(finite) or 1.0)))
        out.append('</div>')
    if report.get('compare'):
        out.append(_compare_html(report['compare'], data, thumb_size,
                                 score_thr))
    out.append('<script type="application/json" id="report-data">' +
               json.dumps(report).replace('</', '<\\/') + '</script>')
    out.append(f'<script>{SCRIPT}</script></body></html>')
    return '\n'.join(out)


def _fcos_html(fcos: dict, data, thumb_size, score_thr) -> str:
    out = ['<h2 id="fcos">FCOS diagnostics</h2><p class="note">The '
           'training assigner on the evaluated boxes (scaled to the network '
           'input): the level holding most of each box\'s positive points, '
           'and recall at IoU 0.5 per level. "none": boxes no level can '
           'learn.</p>']
    out.append(_table(['level', 'stride', 'regress range', 'boxes',
                       'recalled', 'recall', 'median sqrt(area)'],
                      ([row['level'], row['stride'],
                        None if row['regress_range'] is None else
                        '{:g} - {:g}'.format(*row['regress_range']),
                        row['boxes'], row['recalled'], row['recall'],
                        row['median_side']] for row in fcos['levels']),
                      False, 2))
    lost = fcos['unlearnable']
    out.append(f'<p>Unlearnable: <b>{lost["total"]}</b> of {fcos["total"]} '
               'boxes: ' + ', '.join(
                   f'{count} {_esc(fcos["reasons"][name])}'
                   for name, count in lost['per_reason'].items()) + '.</p>')
    header = ['group', 'boxes', 'unlearnable'] + [fcos['reasons'][name]
                                                  for name in REASONS]
    out.append(_table(header, ([row['name'], row['boxes'], row['total']] +
                               [row[name] for name in REASONS]
                               for row in lost['per_size'] +
                               lost['per_class'])))
    out.append('<h3>Examples (largest first)</h3>')
    out.append(_gallery(data, fcos['examples'], thumb_size, score_thr,
                        lambda item: f'{_esc(item["label"])}: '
                        f'{_esc(item["note"])}'))
    return ''.join(out)


def _compare_html(compare: dict, data, thumb_size, score_thr) -> str:
    out = ['<h2 id="compare">Comparison</h2>',
           f'<p>mAP {_fmt(compare["map"])} here vs '
           f'{_fmt(compare["other_map"])} in the other run; '
           f'{compare["num_fixed"]} images fixed, {compare["num_broken"]} '
           'broken (image AP50 up / down by 0.5 or more).</p>']
    out.append(_table(['class', 'AP', 'other AP', 'change'],
                      ([row['name'], row['ap'], row['other_ap'],
                        row['change']] for row in compare['classes'])))
    for key, title in (('fixed', 'Fixed'), ('broken', 'Broken')):
        out.append(f'<h3>{title}</h3>')
        out.append(_gallery(data, compare[key], thumb_size, score_thr,
                            lambda item: f'AP50 {_fmt(item["ap50"])} '
                            f'(was {_fmt(item["other_ap50"])})'))
    return ''.join(out)


def now() -> str:
    """The time, for the report's header."""
    return datetime.datetime.now().isoformat(timespec='seconds')


# ---------------------------------------------------------------- driver

def predictions_from_results(results: Sequence[dict]) -> List[dict]:
    """``CocoMetric``-style predictions (``img_id``, ``img_path``,
    ``bboxes``, ``scores``, ``labels``, ``img_shape``, ``scale_factor``)
    from ``DumpDetResults``' records (``tools/test.py --out``)."""
    predictions = []
    for record in results:
        pred = record['pred_instances']
        predictions.append(dict(
            img_id=record['img_id'], img_path=record.get('img_path', ''),
            bboxes=da._numpy(pred['bboxes']),
            scores=da._numpy(pred['scores']),
            labels=da._numpy(pred['labels']),
            img_shape=record.get('img_shape'),
            scale_factor=record.get('scale_factor')))
    return predictions


def evaluator_settings(cfg) -> dict:
    """``ann_file`` of the config's test ``CocoMetric`` and the class
    names of its test dataset."""
    evaluators = cfg.get('test_evaluator')
    evaluators = evaluators if isinstance(evaluators, (list, tuple)) else [
        evaluators]
    ann_file = next((ev.get('ann_file') for ev in evaluators
                     if ev and ev.get('ann_file')), None)
    if ann_file is None:
        raise ValueError('the config\'s test_evaluator has no ann_file: '
                         'the report needs the ground truth as a COCO json')
    dataset = cfg.test_dataloader.dataset
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        from fcos_mm.models.utils import fcos_mm_scope
        from fcos_mm.registry import DATASETS
        with fcos_mm_scope():
            classes = DATASETS.get(dataset['type']).METAINFO['classes']
    return dict(ann_file=ann_file, classes=list(classes))


def versions(backend: str) -> str:
    """fcos_mm, mmdet, mmengine, mmcv, torch versions and the backend."""
    import mmcv
    import mmdet
    import mmengine
    import torch

    import fcos_mm
    return (f'fcos_mm {fcos_mm.__version__}, mmdet {mmdet.__version__}, '
            f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, '
            f'torch {torch.__version__}, evaluator {backend}')


def report_from_predictions(cfg, predictions: Sequence[dict], out_dir: str,
                            compare: Optional[Sequence[dict]] = None,
                            log: Optional[str] = None,
                            meta: Optional[dict] = None,
                            backend: str = 'auto',
                            num_gallery: int = 12) -> dict:
    """The whole report of a config's test set from its predictions.

    Args:
        cfg (Config): The config (test evaluator, dataset, model).
        predictions (Sequence[dict]): :func:`predictions_from_results`.
        out_dir (str): Where the files go.
        compare (Sequence[dict], optional): Another run's predictions.
        log (str, optional): A ``scalars.json`` for the training curves.
        meta (dict, optional): Config / checkpoint names for the summary.
        backend (str): ``CocoMetric`` backend.
        num_gallery (int): Items per gallery.

    Returns:
        dict: :func:`write_report`'s paths, with ``report``.
    """
    from fcos_mm.evaluation import CocoMetric

    from .fcos_diagnostics import assign_levels, assigner_from_config
    settings = evaluator_settings(cfg)
    classes = settings['classes']
    metric = CocoMetric(ann_file=settings['ann_file'], backend=backend)
    metric.dataset_meta = dict(classes=tuple(classes))
    tic = time.perf_counter()
    metric.compute_metrics([(dict(img_id=pred['img_id']), pred)
                            for pred in predictions])
    eval_seconds = time.perf_counter() - tic
    data = da.eval_data_from_coco(metric._coco_api, predictions, classes)
    by_id = {pred['img_id']: pred for pred in predictions}
    ordered = [by_id[int(img_id)] for img_id in data.img_ids]
    meta = dict(meta or {})
    meta.update(backend=metric.backend, versions=versions(metric.backend),
                eval_seconds=round(eval_seconds, 2), created=now())
    diagnostics = None
    if all(pred.get('img_shape') is not None for pred in ordered):
        assigner, strides, pad = assigner_from_config(cfg)
        img_shapes = np.array([pred['img_shape'][:2] for pred in ordered])
        scales = np.array([
            pred['scale_factor'] if pred.get('scale_factor') is not None
            else (1.0, 1.0) for pred in ordered], np.float64)
        diagnostics = dict(
            assignment=assign_levels(data, img_shapes, scales, assigner,
                                     strides, pad),
            strides=strides, regress_ranges=assigner.regress_ranges)
    training = None
    if log is not None:
        from .curves import load_curves
        curves = load_curves(log)
        training = dict(losses=curves.losses, metrics=curves.metrics)
    other = None
    if compare is not None:
        other = da.eval_data_from_coco(metric._coco_api, compare, classes)
    report = build_report(data, coco_numbers(metric.coco_eval), meta,
                          diagnostics, training, other, num_gallery)
    paths = write_report(report, out_dir, data)
    paths['report'] = report
    return paths
