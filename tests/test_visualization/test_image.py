"""Drawing: the one palette, boxes on images (OpenCV) and the report's
SVG pieces."""
import numpy as np

from fcos_mm.visualization import (
    PALETTE,
    color_bgr,
    color_hex,
    draw_sample,
    image_with_boxes,
    line_chart,
    thumbnail,
)


def test_palette_cycles_and_converts():
    assert color_hex(0) == PALETTE[0] == '#1f77b4'
    assert color_hex(len(PALETTE) + 1) == PALETTE[1]
    # '#d62728': red 0xd6 = 214, green 0x27 = 39, blue 0x28 = 40
    assert color_bgr(1) == (40, 39, 214)


def test_draw_sample_draws_each_box():
    img = np.zeros((40, 60, 3), np.uint8)
    out = draw_sample(img, np.array([[5, 5, 20, 30]]), np.array([1]),
                      ('a', 'b'))
    assert img.sum() == 0  # the input is left alone
    # the box's left edge is drawn in class 1's colour (red, BGR)
    assert tuple(out[15, 5]) == (40, 39, 214)
    assert out[15, 12].sum() == 0  # inside stays


def test_image_with_boxes_scales_to_the_picture(tmp_path):
    import cv2
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, np.full((50, 100, 3), 128, np.uint8))
    uri, scale, size = thumbnail(path, 20)
    assert uri.startswith('data:image/jpeg;base64,')
    assert (scale, size) == (0.2, (20, 10))
    svg = image_with_boxes(path, (50, 100), 20, [dict(
        box=[10, 5, 60, 45], color='#0a0', dashed=True, title='cat')])
    # 100 x 50 shrunk to 20 x 10: the box x0.2
    assert 'x="2.0" y="1.0" width="10.0" height="8.0"' in svg
    assert 'stroke-dasharray="4,2"' in svg and '<title>cat</title>' in svg
    # a missing file: a grey box of the image's size, said so
    missing = image_with_boxes(str(tmp_path / 'none.png'), (50, 100), 20,
                               [])
    assert 'image not found' in missing and 'width="20"' in missing


def test_line_chart_draws_points_in_the_frame():
    svg = line_chart([('a', [0.0, 1.0], [0.0, 1.0])], 'title', 'x', 'y',
                     width=140, height=100)
    # plot area: x 40..130, y 20..68 (height - 32)
    assert 'points="40.0,68.0 130.0,20.0"' in svg
    assert '<title>title</title>' in svg


def test_line_chart_ticks_leave_room_for_the_axis_label():
    # small metric values: the y ticks are long ('0.000615'); the frame
    # moves right so they end before it and start after the rotated y
    # label (x 3..14); whole steps are written whole, not 1e+03
    svg = line_chart([('mAP', [0, 1000], [0.0, 0.00123])], 'metrics: mAP',
                     'step', 'metric', xlim=(0, 1000), ylim=(0, 0.00123))
    # 8 characters x 6.5 px + 20: the frame at x 72, ticks end at 68
    assert '<rect x="72"' in svg
    assert 'x="68" y="24.0" text-anchor="end">0.00123</text>' in svg
    assert '>1000</text>' in svg and 'e+03' not in svg
