"""Drawing, in one place: the palette, inline SVG plots (the report),
boxes on images (OpenCV) and training curves (matplotlib).

Imports nothing from ``evaluation/``, ``analysis/`` or ``models/``: the
callers hand in plain arrays.
"""
from .curves import Curves, load_curves, plot_curves
from .image import draw_sample, thumbnail
from .palette import PALETTE, color_bgr, color_hex
from .svg import bar_chart, heatmap, image_with_boxes, line_chart

__all__ = [
    'PALETTE', 'Curves', 'bar_chart', 'color_bgr', 'color_hex',
    'draw_sample', 'heatmap', 'image_with_boxes', 'line_chart',
    'load_curves', 'plot_curves', 'thumbnail'
]
