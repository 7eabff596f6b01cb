"""Inline SVG plots for self-contained HTML pages (the evaluation report):
line charts, horizontal bar charts, a confusion heatmap and an image
with boxes. Each function returns one ``<svg>`` element as text; nothing
is fetched (images are embedded as data URIs)."""
import html
from typing import Optional, Sequence

from .image import thumbnail
from .palette import color_hex


def esc(value) -> str:
    """``value`` as text escaped for HTML / SVG."""
    return html.escape(str(value))


def tick_text(value: float) -> str:
    """An axis tick: whole numbers as such (``1000``, not ``1e+03``),
    others to 3 significant digits."""
    if float(value).is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f'{value:.3g}'


def line_chart(series: Sequence[tuple], title: str, xlabel: str,
               ylabel: str, width: int = 320, height: int = 220,
               xlim=(0.0, 1.0), ylim=(0.0, 1.0),
               marker: Optional[float] = None,
               legend: bool = True) -> str:
    """An SVG line chart of ``(name, xs, ys)`` series (None gaps), a
    dashed vertical line at ``marker``, the series' names top right
    (``legend``). The left margin fits the longest
    y tick, so ticks never run into the (rotated) y label."""
    x0, x1 = xlim
    y0, y1 = ylim
    x_span = (x1 - x0) or 1.0
    y_span = (y1 - y0) or 1.0
    fracs = (0, 0.5, 1)
    y_ticks = [tick_text(y0 + frac * y_span) for frac in fracs]
    # the y label's line (x 3..14), a gap, then the ticks (~6.5 px a
    # character at 11 px) ending 4 px before the frame
    left = max(40, 20 + round(6.5 * max(map(len, y_ticks))))
    right, top, bottom = 10, 20, 32
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x):
        return left + (x - x0) / x_span * plot_w

    def py(y):
        return top + plot_h - (y - y0) / y_span * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>{esc(title)}</title>',
             f'<text x="{left}" y="13" font-weight="bold">{esc(title)}'
             '</text>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"'
             ' fill="none" stroke="#999"/>']
    for frac, y_tick in zip(fracs, y_ticks):
        value = y0 + frac * y_span
        parts.append(f'<text x="{left - 4}" y="{py(value) + 4:.1f}" '
                     f'text-anchor="end">{y_tick}</text>')
        parts.append(f'<text x="{px(x0 + frac * x_span):.1f}" '
                     f'y="{top + plot_h + 13}" text-anchor="middle">'
                     f'{tick_text(x0 + frac * x_span)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 3}" '
                 f'text-anchor="middle">{esc(xlabel)}</text>')
    parts.append(f'<text x="10" y="{top + plot_h / 2}" text-anchor="middle"'
                 f' transform="rotate(-90 10 {top + plot_h / 2})">'
                 f'{esc(ylabel)}</text>')
    if marker is not None:
        parts.append(f'<line x1="{px(marker):.1f}" x2="{px(marker):.1f}" '
                     f'y1="{top}" y2="{top + plot_h}" stroke="#888" '
                     'stroke-dasharray="3,3"/>')
    for index, (name, xs, ys) in enumerate(series):
        color = color_hex(index)
        points = ' '.join(f'{px(x):.1f},{py(y):.1f}'
                          for x, y in zip(xs, ys)
                          if x is not None and y is not None)
        if points:
            parts.append(f'<polyline fill="none" stroke="{color}" '
                         f'stroke-width="1.5" points="{points}"/>')
        if legend:
            parts.append(f'<text x="{left + plot_w - 4}" '
                         f'y="{top + 12 + 12 * index}" text-anchor="end" '
                         f'fill="{color}">{esc(name)}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def bar_chart(items: Sequence[tuple], title: str, width: int = 420) -> str:
    """A horizontal SVG bar chart of ``(label, value)``."""
    row_h, left = 20, 150
    height = 24 + row_h * len(items)
    top = max([abs(value) for _, value in items if value is not None] +
              [1e-9])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img"><title>{esc(title)}</title>',
             f'<text x="0" y="13" font-weight="bold">{esc(title)}</text>']
    for index, (label, value) in enumerate(items):
        y = 20 + index * row_h
        value = value or 0.0
        bar = max(value, 0) / top * (width - left - 60)
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">'
                     f'{esc(label)}</text><rect x="{left}" y="{y + 2}" '
                     f'width="{bar:.1f}" height="{row_h - 6}" '
                     f'fill="{color_hex(index)}"/>'
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
             f'height="{height}" role="img"><title>{esc(title)}</title>',
             f'<text x="0" y="13" font-weight="bold">{esc(title)}</text>',
             f'<text x="{left}" y="30">predicted &#8594;</text>',
             f'<text x="0" y="{top - 6}">true &#8595;</text>']
    for index, label in enumerate(labels):
        centre = index * cell + cell / 2
        parts.append(f'<text x="{left - 4}" y="{top + centre + 4:.1f}" '
                     f'text-anchor="end">{esc(label[:14])}</text>')
        parts.append(f'<text x="{left + centre:.1f}" y="{top - 4}" '
                     f'transform="rotate(-60 {left + centre:.1f} '
                     f'{top - 4})">{esc(label[:14])}</text>')
    for row in range(size):
        for col in range(size):
            frac = normalized[row][col] or 0.0
            shade = int(255 - 200 * frac)
            x, y = left + col * cell, top + row * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" '
                         f'height="{cell}" fill="rgb({shade},{shade},255)" '
                         f'stroke="#eee"><title>{esc(labels[row])} as '
                         f'{esc(labels[col])}: {counts[row][col]} '
                         f'({frac:.2f})</title></rect>')
            if counts[row][col] and cell >= 18:
                text = (f'{frac:.2f}'.lstrip('0') if show_fraction
                        else counts[row][col])
                parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}"'
                             f' text-anchor="middle">{text}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def image_with_boxes(path: str, img_size: Sequence[int], size: int,
                     boxes: Sequence[dict]) -> str:
    """An SVG of an image file shrunk to ``size`` (its longest side; a grey
    "image not found" box of ``img_size`` ``(h, w)`` when it cannot be
    read) with ``boxes`` drawn: dicts of ``box`` (xyxy, original pixels),
    ``color``, optional ``dashed`` (bool), ``thick`` (stroke width, 1.5)
    and ``title`` (the tooltip)."""
    height, width = (int(v) for v in img_size)
    thumb = thumbnail(path, size) if path else None
    if thumb is None:
        # as a picture would be: shrunk to size, never enlarged
        scale = min(1.0, size / max(width, height, 1))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        backdrop = (f'<rect width="{w}" height="{h}" fill="#bbb"/>'
                    f'<text x="4" y="14">image not found</text>')
    else:
        uri, scale, (w, h) = thumb
        backdrop = f'<image href="{uri}" width="{w}" height="{h}"/>'
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" '
             f'height="{h}">', backdrop]
    for item in boxes:
        x1, y1, x2, y2 = (v * scale for v in item['box'])
        dash = ' stroke-dasharray="4,2"' if item.get('dashed') else ''
        parts.append(f'<rect x="{x1:.1f}" y="{y1:.1f}" '
                     f'width="{max(x2 - x1, 1):.1f}" '
                     f'height="{max(y2 - y1, 1):.1f}" fill="none" '
                     f'stroke="{item["color"]}" '
                     f'stroke-width="{item.get("thick", 1.5)}"'
                     f'{dash}><title>{esc(item.get("title", ""))}</title>'
                     '</rect>')
    parts.append('</svg>')
    return ''.join(parts)
