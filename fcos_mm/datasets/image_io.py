"""Decode an image file into the picture a person sees when opening it.

:func:`decode_image` turns a file's bytes into a ``(H, W, 3)`` ``uint8``
BGR array (mmcv's convention), whatever the file holds. Training and
inference (through :class:`~fcos_mm.datasets.LoadImageFromFile`) and the data
check (:func:`inspect_image`) all call it, so they see the same pixels:

* **EXIF orientation** (phone photos): applied, as viewers do; a photo
  stored 4000x3000 with orientation 6 loads as 3000 wide, 4000 high.
* **Greyscale** (8 or 16 bit): replicated into three channels.
* **CMYK / YCCK JPEG**: converted to RGB (OpenCV's conversion, which
  handles Adobe's inverted CMYK).
* **16-bit** PNG / TIFF: scaled to 8 bits (the high byte, value // 256),
  as OpenCV's colour decoding does.
* **Alpha** (RGBA / grey+alpha PNG, palette PNG with a transparent
  colour): composited over **white**, as a browser shows it on a white
  page. (mmcv drops the alpha channel instead, which turns transparent
  areas into whatever colour their pixels happen to store, often black.)
* **Truncated or slightly damaged files** that OpenCV refuses (libjpeg's
  "Premature end of JPEG file") but a tolerant decoder can read: decoded by
  Pillow with ``LOAD_TRUNCATED_IMAGES``, the missing part filled (usually
  grey); the second return value says so and the caller warns.
* **Anything else** (not an image, empty, cut in the header):
  :class:`ImageDecodeError`.

The fast decoder is OpenCV (``backend='cv2'``, mmcv's default) or Pillow
(``backend='pillow'``); other mmcv backends (``'turbojpeg'``,
``'tifffile'``) are used as mmcv uses them, with the same fallback.
"""
import io
import threading
from typing import Dict, Optional, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.fileio import get
from PIL import Image, ImageFile, ImageOps

#: Image file name endings (lower case) that the tools look for.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
EXIF_ORIENTATION_TAG = 0x0112
# EXIF orientations that swap width and height.
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
# Pillow reads LOAD_TRUNCATED_IMAGES from a module global; the lock keeps
# two threads of one process from switching it under each other.
_TOLERANT_LOCK = threading.Lock()


class ImageDecodeError(ValueError):
    """The bytes are not an image that any of our decoders can read."""


def _png_has_transparency(img_bytes: bytes) -> bool:
    """Whether a PNG has an alpha channel (IHDR colour type, byte 25: 4 =
    grey + alpha, 6 = RGBA) or a ``tRNS`` chunk before the image data."""
    if not img_bytes.startswith(PNG_SIGNATURE) or len(img_bytes) < 26:
        return False
    if img_bytes[25] in (4, 6):
        return True
    first_idat = img_bytes.find(b'IDAT')
    return img_bytes.find(b'tRNS', 0, max(first_idat, 0)) >= 0


def _over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite 8-bit ``color`` (H, W, C) over white with 8-bit ``alpha``."""
    weight = alpha.astype(np.float32)[..., None] / 255.
    out = color.astype(np.float32) * weight + 255. * (1. - weight)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """Scale 16-bit (and wider integer) images to 8 bits; clip floats."""
    if img.dtype == np.uint8:
        return img
    if img.dtype.kind in 'ui':
        # OpenCV's own 16 -> 8 bit conversion keeps the high byte.
        return np.clip(img.astype(np.int64) // 256, 0, 255).astype(np.uint8)
    return np.clip(np.rint(img.astype(np.float64) * 255.), 0,
                   255).astype(np.uint8)


def _opencv_unchanged_to_bgr(img: np.ndarray) -> np.ndarray:
    """An ``IMREAD_UNCHANGED`` array (grey, grey+alpha, BGR or BGRA, 8 or 16
    bit) as 8-bit BGR, alpha composited over white."""
    img = _to_uint8(img)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 2:
        grey = cv2.cvtColor(np.ascontiguousarray(img[..., 0]),
                            cv2.COLOR_GRAY2BGR)
        return _over_white(grey, img[..., 1])
    if img.shape[2] == 4:
        return _over_white(img[..., :3], img[..., 3])
    return img


def _decode_opencv(img_bytes: bytes) -> Optional[np.ndarray]:
    buf = np.frombuffer(img_bytes, np.uint8)
    if _png_has_transparency(img_bytes):
        # IMREAD_COLOR would drop the alpha channel.
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        return None if img is None else _opencv_unchanged_to_bgr(img)
    # IMREAD_COLOR applies EXIF orientation, replicates grey, converts
    # CMYK and scales 16 bits to 8.
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def pillow_to_bgr(img: Image.Image) -> np.ndarray:
    """An opened Pillow image, in any mode, as the ``(H, W, 3)`` 8-bit BGR
    array a viewer shows."""
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode.startswith('I') or mode == 'F':
        # 16/32-bit integer or float greyscale: Pillow's convert('RGB')
        # would clip instead of scaling.
        grey = np.asarray(img)
        grey = _to_uint8(grey if mode != 'F' else grey / 255.)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if mode in ('RGBA', 'LA', 'PA', 'La', 'RGBa') or (
            mode in ('P', 'L', 'RGB') and 'transparency' in img.info):
        rgba = np.asarray(img.convert('RGBA'))
        return _over_white(rgba[..., 2::-1], rgba[..., 3])
    rgb = np.asarray(img.convert('RGB'))
    return np.ascontiguousarray(rgb[..., ::-1])


def _decode_pillow(img_bytes: bytes, tolerant: bool) -> np.ndarray:
    """Decode with Pillow; ``tolerant`` reads truncated files too."""
    with _TOLERANT_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = tolerant
        try:
            with Image.open(io.BytesIO(img_bytes)) as img:
                img.load()
                return pillow_to_bgr(img)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode_fast(img_bytes: bytes, backend: str) -> Optional[np.ndarray]:
    """The configured decoder; None (never an exception) if it refuses."""
    try:
        if backend == 'cv2':
            return _decode_opencv(img_bytes)
        if backend == 'pillow':
            return _decode_pillow(img_bytes, tolerant=False)
        img = mmcv.imfrombytes(img_bytes, flag='color', backend=backend)
    except Exception:
        return None
    if img is not None and (img.ndim != 3 or img.shape[2] != 3):
        img = _opencv_unchanged_to_bgr(img)
    return img


def decode_image(img_bytes: bytes,
                 backend: str = 'cv2') -> Tuple[np.ndarray, Optional[str]]:
    """Decode an image file's bytes as the module docstring says.

    Args:
        img_bytes (bytes): The file's content.
        backend (str): The fast decoder: ``'cv2'``, ``'pillow'``, or another
            of mmcv's ``imfrombytes`` backends.

    Returns:
        tuple[np.ndarray, str | None]: The ``(H, W, 3)`` ``uint8`` BGR image,
        and None if the fast decoder read it, else a sentence saying that a
        tolerant decoder had to (the caller should warn, naming the file).

    Raises:
        ImageDecodeError: No decoder can read the bytes.
    """
    img = _decode_fast(img_bytes, backend)
    if img is not None:
        return img, None
    try:
        img = _decode_pillow(img_bytes, tolerant=True)
    except Exception as e:
        raise ImageDecodeError(
            f'not a readable image: {backend} refused it and Pillow says '
            f'{type(e).__name__}: {e}. Is it corrupt, cut short in its '
            f'header, or not an image at all?') from e
    return img, (f'{backend} could not decode it (truncated or damaged?), '
                 f'so it was read with Pillow\'s tolerant decoder, which '
                 f'fills in what is missing')


def inspect_image(img_bytes: bytes, backend: str = 'cv2') -> Dict:
    """Decode an image and describe the file, for the data check.

    Returns:
        dict: ``height`` and ``width`` as loaded (None if undecodable),
        ``error`` (str or None: why nothing could decode it), ``fallback``
        (str or None: see :func:`decode_image`), ``format`` and ``mode``
        (Pillow's names, e.g. ``'JPEG'``, ``'CMYK'``; None if Pillow cannot
        identify the file), ``stored_size`` ((width, height) as stored,
        before EXIF orientation) and ``orientation`` (the EXIF tag, 1 when
        absent).
    """
    info = dict(height=None, width=None, error=None, fallback=None,
                format=None, mode=None, stored_size=None, orientation=1)
    try:
        with Image.open(io.BytesIO(img_bytes)) as img:
            info['format'], info['mode'] = img.format, img.mode
            info['stored_size'] = tuple(img.size)
            info['orientation'] = int(
                img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
    except Exception:
        pass  # decode_image below says what is wrong, if anything
    try:
        img, info['fallback'] = decode_image(img_bytes, backend)
    except ImageDecodeError as e:
        info['error'] = str(e)
        return info
    info['height'], info['width'] = img.shape[:2]
    return info


def inspect_image_file(path: str, backend: str = 'cv2') -> Dict:
    """:func:`inspect_image` on a file (any mmengine file backend);
    ``dict(missing=True)`` when it does not exist, ``dict(error=...)`` when
    it cannot be read."""
    try:
        img_bytes = get(path)
    except FileNotFoundError:
        return dict(missing=True)
    except Exception as e:
        return dict(error=f'cannot read it: {type(e).__name__}: {e}')
    return inspect_image(img_bytes, backend)
