"""mmcv's image loader, decoding as a viewer does and never dropping an
image silently.

Bad-image policy (``LoadImageFromFile(on_bad_image=...)`` in the pipeline):

* a file OpenCV refuses but Pillow's tolerant decoder reads (e.g. a JPEG
  truncated at its end) is **loaded**, with one warning per file and process
  naming it (see :mod:`fcos_mm.datasets.image_io`);
* a missing or unreadable file, with ``'raise'`` (default):
  :class:`FileNotFoundError` / :class:`ValueError` naming the path and the
  image id; with ``'skip'`` (or mmcv's ``ignore_empty=True``): a warning
  naming the file, the image is **recorded** and the transform returns
  None, so mmengine's dataset draws another (training only: in test mode
  our :class:`~fcos_mm.datasets.CocoDataset` raises, naming the file). The
  dataset hands the records to the batch, and
  :class:`~fcos_mm.engine.hooks.SkippedImagesHook` logs them, per image and
  per epoch, across dataloader workers and ranks.

Differences from mmcv: with ``color_type='color'`` and the ``'cv2'`` or
``'pillow'`` backend, images go through
:func:`~fcos_mm.datasets.image_io.decode_image` (EXIF orientation, greyscale
/ CMYK / 16-bit / alpha to 8-bit BGR, a tolerant decoder for truncated
files); other colour types keep ``mmcv.imfrombytes``. Registered as
``LoadImageFromFile`` in the ``fcos_mm`` scope, so configs get it unchanged.
"""
import warnings
from typing import Dict, List, Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio

from fcos_mm.datasets.image_io import ImageDecodeError, decode_image
from fcos_mm.registry import TRANSFORMS

BAD_IMAGE_POLICIES = ('raise', 'skip')

# Per process (each dataloader worker has its own): images skipped since
# the dataset last collected them, and the files already warned about.
_skipped: List[Dict] = []
_warned_fallback: set = set()


def pop_skipped_images() -> List[Dict]:
    """Return and forget the images skipped in this process so far: one
    dict per skipped load, with ``img_path``, ``img_id`` (None if unknown)
    and ``reason``."""
    records = list(_skipped)
    _skipped.clear()
    return records


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """Load an image as a viewer shows it, naming a missing or undecodable
    file, and apply the bad-image policy (see the module docstring).

    Args:
        on_bad_image (str): ``'raise'`` (default) or ``'skip'``.
        **kwargs: As for :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``ignore_empty``, ``backend_args``).
    """

    def __init__(self, on_bad_image: str = 'raise', **kwargs) -> None:
        super().__init__(**kwargs)
        if on_bad_image not in BAD_IMAGE_POLICIES:
            raise ValueError(f'on_bad_image must be one of '
                             f'{BAD_IMAGE_POLICIES}, not {on_bad_image!r}.')
        if self.ignore_empty:
            on_bad_image = 'skip'
        self.on_bad_image = on_bad_image

    def _fail(self,
              results: dict,
              error: Exception,
              cause: Optional[Exception] = None) -> None:
        if self.on_bad_image == 'raise':
            raise error from cause
        option = ('ignore_empty=True'
                  if self.ignore_empty else "on_bad_image='skip'")
        warnings.warn(f'{error} Skipping it ({option}).', stacklevel=3)
        _skipped.append(
            dict(img_path=str(results['img_path']),
                 img_id=results.get('img_id'),
                 reason=str(error)))

    def _decode(self, img_bytes: bytes, where: str) -> np.ndarray:
        """Decode with the viewer's conventions, warning on a fallback."""
        if self.color_type != 'color' or self.imdecode_backend not in (
                'cv2', 'pillow'):
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type,
                backend=self.imdecode_backend)
            if img is None:
                raise ImageDecodeError('not a readable image; is it corrupt '
                                       'or truncated?')
            return img
        img, fallback = decode_image(img_bytes, self.imdecode_backend)
        if fallback is not None and where not in _warned_fallback:
            _warned_fallback.add(where)
            warnings.warn(f'{where}: {fallback}. Check the file (e.g. '
                          f'tools/misc/check_dataset.py).', stacklevel=3)
        return img

    def transform(self, results: dict) -> Optional[dict]:
        """Read ``results['img_path']`` into ``img``, ``img_shape`` and
        ``ori_shape``; None for a bad file when skipping. Errors
        (FileNotFoundError, ValueError) name the file and ``img_id``."""
        filename = results['img_path']
        where = f'image file {filename}'
        if 'img_id' in results:
            where += f' (img_id {results["img_id"]})'
        try:
            if self.file_client_args is not None:
                client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                img_bytes = client.get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            return self._fail(results,
                              FileNotFoundError(f'Cannot find {where}.'), e)
        except Exception as e:
            return self._fail(
                results,
                ValueError(f'Cannot read {where}: {type(e).__name__}: {e}'),
                e)
        try:
            img = self._decode(img_bytes, where)
        except Exception as e:
            detail = (e if isinstance(e, ImageDecodeError) else
                      f'{type(e).__name__}: {e}. Is it corrupt?')
            return self._fail(
                results,
                ValueError(f'Cannot decode {where} ({len(img_bytes)} bytes): '
                           f'{detail}'), e)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, '
                f'on_bad_image={self.on_bad_image!r})')
