"""decode_image / inspect_image on the awkward files real data sets hold."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from fcos_mm.datasets.image_io import (
    ImageDecodeError,
    decode_image,
    inspect_image,
    pillow_to_bgr,
)

_spec = importlib.util.spec_from_file_location(
    'image_fixtures', osp.join(osp.dirname(__file__), 'image_fixtures.py'))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def _close(a, b, tol):
    assert a.shape == b.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= tol


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_ordinary_jpeg_is_read_by_the_fast_decoder(tmp_path, backend):
    path = str(tmp_path / 'a.jpg')
    expected = fx.write_jpeg(path)
    img, fallback = decode_image(_read(path), backend)
    assert fallback is None
    if backend == 'cv2':
        np.testing.assert_array_equal(img, expected)
    else:  # two libjpeg builds may round differently
        _close(img, expected, 2)


def test_truncated_jpeg_falls_back_to_the_tolerant_decoder(tmp_path):
    path = str(tmp_path / 'cut.jpg')
    full = fx.write_truncated_jpeg(path)
    data = _read(path)
    # The fast decoder refuses it, as in the bug report.
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) \
        is None
    img, fallback = decode_image(data)
    assert 'cv2 could not decode it' in fallback
    assert "Pillow's tolerant decoder" in fallback
    assert img.shape == full.shape and img.dtype == np.uint8
    # The top rows arrived intact.
    _close(img[:8], full[:8], 3)
    # Pillow's global switch is left as it was.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_unreadable_file_raises(tmp_path, backend):
    path = str(tmp_path / 'bad.jpg')
    fx.write_unreadable(path)
    with pytest.raises(ImageDecodeError, match=f'{backend} refused it and '
                       'Pillow says'):
        decode_image(_read(path), backend)
    with pytest.raises(ImageDecodeError):
        decode_image(b'')


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('orientation', [3, 6, 8])
def test_exif_orientation_is_applied(tmp_path, backend, orientation):
    path = str(tmp_path / 'phone.jpg')
    expected = fx.write_exif_rotated_jpeg(path, orientation)
    img, fallback = decode_image(_read(path), backend)
    assert fallback is None
    assert img.shape == expected.shape
    _close(img, expected, 2)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_cmyk_jpeg_looks_like_its_rgb_original(tmp_path, backend):
    path = str(tmp_path / 'print.jpg')
    expected = fx.write_cmyk_jpeg(path)
    assert Image.open(path).mode == 'CMYK'
    img, _ = decode_image(_read(path), backend)
    _close(img, expected, 6)  # JPEG loss on flat blocks


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_greyscale_jpeg_has_three_equal_channels(tmp_path, backend):
    path = str(tmp_path / 'grey.jpg')
    expected = fx.write_grey_jpeg(path)
    img, _ = decode_image(_read(path), backend)
    _close(img, expected, 1)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_alpha_is_composited_over_white(tmp_path, backend):
    path = str(tmp_path / 'logo.png')
    expected = fx.write_rgba_png(path)
    img, _ = decode_image(_read(path), backend)
    np.testing.assert_array_equal(img, expected)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_palette_transparency_is_composited_over_white(tmp_path, backend):
    path = str(tmp_path / 'pal.png')
    expected = fx.write_palette_png_with_transparency(path)
    img, _ = decode_image(_read(path), backend)
    np.testing.assert_array_equal(img, expected)


def test_grey_alpha_png_over_white():
    la = Image.new('LA', (4, 2), (50, 0))
    la.paste((50, 255), (0, 0, 2, 2))
    data = fx.pillow_bytes(la, 'PNG')
    expected = np.full((2, 4, 3), 255, np.uint8)
    expected[:, :2] = 50
    for backend in ('cv2', 'pillow'):
        np.testing.assert_array_equal(decode_image(data, backend)[0],
                                      expected)


@pytest.mark.parametrize('channels', [1, 3])
def test_16bit_png_is_scaled_to_8_bits(tmp_path, channels):
    path = str(tmp_path / 'deep.png')
    expected = fx.write_16bit_png(path, channels)
    img, _ = decode_image(_read(path))
    np.testing.assert_array_equal(img, expected)


def test_pillow_path_scales_16bit_greyscale_instead_of_clipping(tmp_path):
    # Pillow's own convert('RGB') clips 16-bit values at 255.
    path = str(tmp_path / 'deep.png')
    expected = fx.write_16bit_png(path, 1)
    with Image.open(path) as img:
        assert img.mode.startswith('I')
        np.testing.assert_array_equal(pillow_to_bgr(img), expected)
    np.testing.assert_array_equal(
        decode_image(_read(path), 'pillow')[0], expected)


def test_pillow_float_image():
    img = Image.fromarray(np.array([[0., 127.6], [255., 300.]], np.float32))
    out = pillow_to_bgr(img)
    np.testing.assert_array_equal(out[..., 0], [[0, 128], [255, 255]])


def test_other_mmcv_backend_goes_through_imfrombytes(tmp_path):
    # 'tifffile' is mmcv's; it cannot read a JPEG, so the tolerant decoder
    # takes over and says so.
    path = str(tmp_path / 'a.jpg')
    expected = fx.write_jpeg(path)
    img, fallback = decode_image(_read(path), 'tifffile')
    assert fallback.startswith('tifffile could not decode it')
    _close(img, expected, 2)


def test_inspect_describes_the_file(tmp_path):
    path = str(tmp_path / 'phone.jpg')
    fx.write_exif_rotated_jpeg(path, 6)
    info = inspect_image(_read(path))
    assert info == dict(height=32, width=24, error=None, fallback=None,
                        format='JPEG', mode='RGB', stored_size=(32, 24),
                        orientation=6)

    path = str(tmp_path / 'print.jpg')
    fx.write_cmyk_jpeg(path)
    info = inspect_image(_read(path))
    assert (info['mode'], info['orientation'], info['height'],
            info['width']) == ('CMYK', 1, 24, 32)


def test_inspect_truncated_and_unreadable(tmp_path):
    path = str(tmp_path / 'cut.jpg')
    fx.write_truncated_jpeg(path)
    info = inspect_image(_read(path))
    assert info['error'] is None and info['fallback']
    assert (info['height'], info['width']) == (64, 48)

    path = str(tmp_path / 'bad.jpg')
    fx.write_unreadable(path)
    info = inspect_image(_read(path))
    assert info['error'].startswith('not a readable image')
    assert info['height'] is None and info['mode'] is None

    info = inspect_image(b'plain text, not an image')
    assert info['error'] and info['format'] is None
