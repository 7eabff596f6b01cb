"""mmcv's image loader, failing with the file's name on a bad image."""
import warnings
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio

from fcos_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """Load an image, saying which file is missing or cannot be decoded.

    mmcv's loader re-raises whatever the file backend or decoder raised, and
    a file that decodes to nothing trips a bare ``assert``; inside a
    dataloader worker either ends in a traceback that does not say which
    sample was bad. Registered as ``LoadImageFromFile`` in the ``fcos_mm``
    scope, so configs get it without change.

    * missing file -> :class:`FileNotFoundError` naming the path and image id;
    * unreadable or undecodable file (corrupt, not an image, empty) ->
      :class:`ValueError` naming the path and image id;
    * with ``ignore_empty=True`` (mmcv's option) neither raises: a warning
      names the file and the transform returns None, which makes mmengine's
      dataset draw another sample during training (in test mode it raises).

    Args:
        **kwargs: As for :class:`mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``ignore_empty``, ``backend_args``).
    """

    def _fail(self,
              error: Exception,
              cause: Optional[Exception] = None) -> None:
        if self.ignore_empty:
            warnings.warn(f'{error} Skipping it (ignore_empty=True).',
                          stacklevel=3)
            return None
        raise error from cause

    def transform(self, results: dict) -> Optional[dict]:
        """Read ``results['img_path']`` into ``results['img']``.

        Args:
            results (dict): Needs ``img_path``; ``img_id`` is quoted in
                errors when present.

        Returns:
            dict or None: ``results`` with ``img``, ``img_shape`` and
            ``ori_shape``; None for a bad file when ``ignore_empty``.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: The file cannot be read or decoded as an image.
        """
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
            return self._fail(FileNotFoundError(f'Cannot find {where}.'), e)
        except Exception as e:
            return self._fail(
                ValueError(f'Cannot read {where}: {type(e).__name__}: {e}'),
                e)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:
            return self._fail(
                ValueError(f'Cannot decode {where} ({len(img_bytes)} bytes): '
                           f'{type(e).__name__}: {e}. Is it corrupt?'), e)
        if img is None:
            return self._fail(
                ValueError(f'Cannot decode {where} ({len(img_bytes)} bytes): '
                           f'not a readable image; is it corrupt or '
                           f'truncated?'))
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
