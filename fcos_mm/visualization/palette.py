"""The one palette of every drawing: report charts, gallery boxes and
dataset browsing (matplotlib's ``tab10`` order)."""
from typing import Tuple

#: Hex colours, indexed by series or class (cycled).
PALETTE = ('#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd',
           '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22')

#: Ground truth, detections and a highlighted item in image drawings.
GT_COLOR = '#0a0'
DET_COLOR = '#e00'
HIGHLIGHT_GT_COLOR = '#fc0'
HIGHLIGHT_DET_COLOR = '#f0f'


def color_hex(index: int) -> str:
    """The palette's colour of series or class ``index`` (cycled)."""
    return PALETTE[int(index) % len(PALETTE)]


def color_bgr(index: int) -> Tuple[int, int, int]:
    """:func:`color_hex` as an OpenCV ``(blue, green, red)`` tuple."""
    hex_color = color_hex(index).lstrip('#')
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red
