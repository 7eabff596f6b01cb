"""``report.html``: one self-contained page (inline SVG, embedded data, a
few lines of plain JavaScript to sort tables; no network, no server).

:func:`render_html` writes the head, the navigation and each present
section's HTML in the sections' order; a :class:`Page` gives the
sections the shared pieces (number format, tables, galleries).
"""
import json
import os.path as osp
from typing import Callable, Optional, Sequence

import numpy as np

from fcos_mm.visualization.palette import (
    DET_COLOR,
    GT_COLOR,
    HIGHLIGHT_DET_COLOR,
    HIGHLIGHT_GT_COLOR,
)
from fcos_mm.visualization.svg import esc, image_with_boxes

from ..functional import EvalData

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
function plural(count, noun) {
  if (count === 1) { return count + ' ' + noun; }
  return count + ' ' + noun + (/(s|x)$/.test(noun) ? 'es' : 's');
}
var data = JSON.parse(document.getElementById('report-data').textContent);
document.getElementById('loaded').textContent =
  'data: ' + plural(data.classes.length, 'class') + ', ' +
  plural(data.images.length, 'image');
"""


def fmt(value, digits: int = 3) -> str:
    """A cell's text: ``-`` for a missing value, integers as such."""
    if value is None:
        return '-'
    if isinstance(value, str):
        return esc(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f'{value:.{digits}f}'


def plural(count: int, noun: str) -> str:
    """``'1 class'``, ``'2 classes'``, ``'0 boxes'``."""
    if count == 1:
        return f'{count} {noun}'
    return f'{count} {noun}es' if noun.endswith(('s', 'x')) else \
        f'{count} {noun}s'


def shown(items, total: int) -> str:
    """How many of ``total`` a gallery shows: ``'40 in all, the first 12
    shown'``."""
    if total == 0:
        return 'none'
    if len(items) == total:
        return f'{total} in all, all shown'
    return f'{total} in all, the first {len(items)} shown'


def _cell(value, digits: int = 3) -> str:
    sort = '' if value is None or isinstance(value, str) else \
        f' data-v="{value}"'
    return f'<td{sort}>{fmt(value, digits)}</td>'


def table(header: Sequence[str], rows, sortable: bool = True,
          digits: int = 3) -> str:
    """An HTML table; the first column is a name, the rest numbers (click
    a header to sort when ``sortable``)."""
    head = ''.join(f'<th>{esc(name)}</th>' for name in header)
    body = []
    for row in rows:
        cells = [f'<td>{esc(row[0])}</td>'] + [
            _cell(value, digits) for value in row[1:]]
        body.append('<tr>' + ''.join(cells) + '</tr>')
    cls = ' class="sortable"' if sortable else ''
    return (f'<table{cls}><thead><tr>{head}</tr></thead><tbody>'
            + ''.join(body) + '</tbody></table>')


class Page:
    """What the sections' HTML shares: the evaluation (for the galleries'
    images and boxes), the picture size and the report's score
    threshold."""

    def __init__(self, data: EvalData, thumb_size: int,
                 score_thr: float) -> None:
        self.data = data
        self.thumb_size = thumb_size
        self.score_thr = score_thr

    def draw_image(self, image: int, highlight: Optional[dict] = None,
                   score_thr: Optional[float] = None) -> str:
        """An SVG of one image with its boxes (green) and detections
        scoring ``>= score_thr`` (red, dashed; default the report's
        threshold), ``highlight`` (a gallery item) thick."""
        data = self.data
        score_thr = self.score_thr if score_thr is None else score_thr
        boxes = [dict(box=data.gt_boxes[gt], color=GT_COLOR,
                      title=data.classes[data.gt_labels[gt]])
                 for gt in np.flatnonzero(data.gt_image == image)]
        dets = np.flatnonzero((data.det_image == image) &
                              (data.det_scores >= score_thr))
        boxes += [dict(box=data.det_boxes[det], color=DET_COLOR, dashed=True,
                       title=f'{data.classes[data.det_labels[det]]} '
                       f'{data.det_scores[det]:.2f}') for det in dets]
        if highlight is not None:
            boxes.append(dict(
                box=highlight['box'], thick=3.5, title=highlight['label'],
                color=(HIGHLIGHT_GT_COLOR if highlight['kind'] == 'gt'
                       else HIGHLIGHT_DET_COLOR)))
        return image_with_boxes(data.img_paths[image],
                                data.img_sizes[image], self.thumb_size,
                                boxes)

    def gallery(self, items: Sequence[dict], caption: Callable[[dict], str],
                score_thr: Optional[float] = None) -> str:
        """A grid of cards, one per item (``image``, and ``box`` etc. for
        a box item), captioned by ``caption(item)``."""
        if not items:
            return '<p class="note">(none)</p>'
        data = self.data
        cards = []
        for item in items:
            image = item['image']
            cards.append(
                '<div class="card">' + self.draw_image(
                    image, item if 'box' in item else None, score_thr) +
                f'<br>image {int(data.img_ids[image])} <span class="note">'
                f'{esc(osp.basename(data.img_paths[image]))}'
                f'</span><br>{caption(item)}</div>')
        return '<div class="grid">' + ''.join(cards) + '</div>'


def render_html(report: dict, data: EvalData, sections: Sequence,
                thumb_size: int = 320) -> str:
    """The report page of ``report`` (built by the same ``sections``)."""
    page = Page(data, thumb_size, report['thresholds']['confusion']['score'])
    present = [section for section in sections if section.present(report)]
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<title>Evaluation report</title>', f'<style>{STYLE}</style>',
           '</head><body>', '<h1>Evaluation report</h1>']
    out.append('<nav>' + ''.join(f'<a href="#{section.key}">{section.title}'
                                 '</a>' for section in present) + '</nav>')
    for section in present:
        out.append(section.html(report, page))
    out.append('<script type="application/json" id="report-data">' +
               json.dumps(report).replace('</', '<\\/') + '</script>')
    out.append(f'<script>{SCRIPT}</script></body></html>')
    return '\n'.join(out)
