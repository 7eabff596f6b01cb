"""Write the awkward image files real data sets contain, for tests.

Every writer takes a path, writes a small file and returns the ``(H, W, 3)``
``uint8`` BGR image a viewer shows for it (computed here independently of
the loader: by hand or by Pillow / OpenCV on the original pixels).
"""
import io

import cv2
import numpy as np
from PIL import Image


def scene(h: int = 24, w: int = 32) -> np.ndarray:
    """A BGR test picture with flat blocks (JPEG keeps them close)."""
    img = np.full((h, w, 3), 200, np.uint8)
    img[:h // 2, :w // 2] = (30, 40, 220)  # red-ish, top left
    img[h // 2:, w // 2:] = (210, 120, 20)  # blue-ish, bottom right
    return img


def write_jpeg(path: str, img: np.ndarray = None) -> np.ndarray:
    """An ordinary JPEG; returns what OpenCV decodes from it."""
    img = scene() if img is None else img
    cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return cv2.imread(path)


def write_truncated_jpeg(path: str, cut: int = 200) -> np.ndarray:
    """A JPEG with its last ``cut`` bytes missing (EOI marker included):
    OpenCV refuses it, Pillow's tolerant decoder reads it. Returns the full
    file's decoded picture (the truncated one differs at the bottom)."""
    rng = np.random.RandomState(0)
    img = cv2.GaussianBlur(
        rng.randint(0, 255, (64, 48, 3)).astype(np.uint8), (7, 7), 2)
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    data = buf.tobytes()
    with open(path, 'wb') as f:
        f.write(data[:len(data) - cut])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def write_unreadable(path: str) -> None:
    """A JPEG cut inside its header: nothing can decode it."""
    ok, buf = cv2.imencode('.jpg', scene())
    with open(path, 'wb') as f:
        f.write(buf.tobytes()[:40])


def write_exif_rotated_jpeg(path: str, orientation: int = 6) -> np.ndarray:
    """A JPEG stored 32 wide x 24 high with an EXIF orientation tag; returns
    the stored picture turned as the tag says (6: 90 degrees clockwise)."""
    stored = scene()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored[..., ::-1]).save(path, 'JPEG', exif=exif,
                                            quality=95)
    decoded = cv2.imread(path, cv2.IMREAD_IGNORE_ORIENTATION
                         | cv2.IMREAD_COLOR)
    turn = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE,
            8: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(decoded, turn[orientation])


def write_cmyk_jpeg(path: str) -> np.ndarray:
    """A CMYK JPEG of :func:`scene`; returns the RGB original as BGR."""
    img = scene()
    Image.fromarray(img[..., ::-1]).convert('CMYK').save(path, 'JPEG',
                                                         quality=95)
    return img


def write_grey_jpeg(path: str) -> np.ndarray:
    """A one-channel JPEG; returns its grey values in three channels."""
    grey = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(path, grey, [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return np.repeat(decoded[..., None], 3, axis=2)


def write_rgba_png(path: str) -> np.ndarray:
    """An RGBA PNG: left half opaque, right half transparent (storing black
    there, as many tools do), a middle column half transparent; returns it
    over white."""
    bgra = np.zeros((8, 10, 4), np.uint8)
    bgra[..., :3] = (10, 100, 200)
    bgra[:, :5, 3] = 255
    bgra[:, 5:, :3] = 0
    bgra[:, 4, 3] = 128
    cv2.imwrite(path, bgra)
    expected = np.full((8, 10, 3), 255, np.uint8)
    expected[:, :4] = (10, 100, 200)
    # 128/255 of the colour over white: round(c * a + 255 * (1 - a)).
    expected[:, 4] = [
        round(c * 128 / 255 + 255 * (1 - 128 / 255)) for c in (10, 100, 200)
    ]
    return expected


def write_palette_png_with_transparency(path: str) -> np.ndarray:
    """A palette PNG whose colour 0 is transparent; returns it over white."""
    img = Image.new('P', (6, 4), 0)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(1, (0, 0, 3, 4))  # left half: opaque green
    img.save(path, 'PNG', transparency=0)
    expected = np.full((4, 6, 3), 255, np.uint8)
    expected[:, :3] = (0, 255, 0)
    return expected


def write_16bit_png(path: str, channels: int = 1) -> np.ndarray:
    """A 16-bit PNG (grey or BGR); returns the high bytes (value // 256),
    in three channels."""
    ramp = (np.arange(4 * 6, dtype=np.uint16).reshape(4, 6) * 2731)
    img = ramp if channels == 1 else np.stack(
        [ramp, ramp // 2, 65535 - ramp], axis=2)
    cv2.imwrite(path, img)
    scaled = (img // 256).astype(np.uint8)
    return np.repeat(scaled[..., None], 3, axis=2) if channels == 1 \
        else scaled


def jpeg_bytes(img: np.ndarray) -> bytes:
    """``img`` encoded as JPEG bytes."""
    ok, buf = cv2.imencode('.jpg', img)
    return buf.tobytes()


def pillow_bytes(img: Image.Image, fmt: str, **kwargs) -> bytes:
    """A Pillow image saved in ``fmt``, as bytes."""
    out = io.BytesIO()
    img.save(out, fmt, **kwargs)
    return out.getvalue()
