"""Raster drawing: boxes and class names on an image (OpenCV), and a
shrunk JPEG of an image file as a data URI (Pillow) for HTML pages."""
import base64
import io
from typing import Optional, Sequence, Tuple

import numpy as np

from .palette import color_bgr


def draw_sample(img: np.ndarray, bboxes: np.ndarray, labels: np.ndarray,
                classes: Optional[Sequence[str]]) -> np.ndarray:
    """A copy of ``img`` (``(H, W, 3)`` BGR uint8) with ``bboxes``
    ``(G, 4)`` xyxy drawn and labelled, each class in its palette colour
    (:func:`~.palette.color_bgr`)."""
    import cv2
    canvas = np.ascontiguousarray(img).copy()
    for box, label in zip(bboxes, labels):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        color = color_bgr(int(label))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        name = (classes[int(label)] if classes is not None
                and int(label) < len(classes) else str(int(label)))
        cv2.putText(canvas, name, (x1 + 2, max(y1 - 4, 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return canvas


def thumbnail(path: str, size: int
              ) -> Optional[Tuple[str, float, Tuple[int, int]]]:
    """``(data URI, scale, (w, h))`` of an image file shrunk to ``size``
    (its longest side; never enlarged), decoded as training decodes it
    (EXIF orientation, alpha over white), or None when it cannot be
    read."""
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
