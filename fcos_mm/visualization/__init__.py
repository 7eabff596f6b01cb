"""Drawing, in one place: the palette, inline SVG plots (the report),
boxes on images (OpenCV), detections with the config's visualizer and
training curves (matplotlib).

Imports nothing from ``evaluation/``, ``analysis/`` or ``models/``: the
callers hand in plain arrays.
"""
from .detections import build_visualizer, draw_result
from .image import draw_sample, thumbnail
from .palette import PALETTE, color_bgr, color_hex
from .plot_curves import Curves, load_curves, plot_curves
from .svg import bar_chart, heatmap, image_with_boxes, line_chart

__all__ = [
    'PALETTE', 'Curves', 'bar_chart', 'build_visualizer', 'color_bgr',
    'color_hex', 'draw_result', 'draw_sample', 'heatmap',
    'image_with_boxes', 'line_chart', 'load_curves', 'plot_curves',
    'thumbnail'
]
