"""mmdet's visualization hook, drawing on the pixels the model saw."""
import os.path as osp
from typing import Sequence

import numpy as np
from mmdet.engine.hooks import DetVisualizationHook as MMDetVisHook
from mmdet.structures import DetDataSample
from mmengine.fileio import get
from mmengine.utils import mkdir_or_exist

from fcos_mm.datasets.image_io import decode_image
from fcos_mm.registry import HOOKS


@HOOKS.register_module()
class DetVisualizationHook(MMDetVisHook):
    """Draw validation / test predictions (``tools/test.py --show-dir``) on
    the picture the model was given; mmdet's arguments.

    Difference from mmdet: images are decoded with
    :func:`~fcos_mm.datasets.image_io.decode_image`, as training does, not
    ``mmcv.imfrombytes`` (which returns None for a truncated JPEG the loader
    read, failing the end of a test run, and ignores transparency).
    """

    def _draw(self, name: str, data_sample: DetDataSample, **kwargs) -> None:
        """Draw ``data_sample`` on its image as mmdet's hook does."""
        img_path = data_sample.img_path
        img_bytes = get(img_path, backend_args=self.backend_args)
        self._visualizer.add_datasample(
            osp.basename(img_path) if self.show else name,
            np.ascontiguousarray(decode_image(img_bytes)[0][..., ::-1]),
            data_sample=data_sample, show=self.show, wait_time=self.wait_time,
            pred_score_thr=self.score_thr, **kwargs)

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[DetDataSample]) -> None:
        """Draw the batch's first image every ``interval`` iterations."""
        total_curr_iter = runner.iter + batch_idx
        if self.draw is not False and total_curr_iter % self.interval == 0:
            self._draw('val_img', outputs[0], step=total_curr_iter)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        """Draw every test image, into ``test_out_dir`` when set."""
        if self.draw is False:
            return
        if self.test_out_dir is not None:
            # Relative to the run's log folder (work_dir is absolute, so
            # joining again on later iterations keeps the same folder).
            self.test_out_dir = osp.join(runner.work_dir, runner.timestamp,
                                         self.test_out_dir)
            mkdir_or_exist(self.test_out_dir)
        for data_sample in outputs:
            self._test_index += 1
            out_file = None
            if self.test_out_dir is not None:
                out_file = osp.join(self.test_out_dir,
                                    osp.basename(data_sample.img_path))
            self._draw('test_img', data_sample, out_file=out_file,
                       step=self._test_index)
