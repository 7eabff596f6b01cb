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

    def _read_rgb(self, img_path: str) -> np.ndarray:
        img_bytes = get(img_path, backend_args=self.backend_args)
        return np.ascontiguousarray(decode_image(img_bytes)[0][..., ::-1])

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[DetDataSample]) -> None:
        """Draw the batch's first image every ``interval`` iterations."""
        if self.draw is False:
            return
        total_curr_iter = runner.iter + batch_idx
        if total_curr_iter % self.interval != 0:
            return
        img_path = outputs[0].img_path
        self._visualizer.add_datasample(
            osp.basename(img_path) if self.show else 'val_img',
            self._read_rgb(img_path),
            data_sample=outputs[0],
            show=self.show,
            wait_time=self.wait_time,
            pred_score_thr=self.score_thr,
            step=total_curr_iter)

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
            img_path = data_sample.img_path
            out_file = None
            if self.test_out_dir is not None:
                out_file = osp.join(self.test_out_dir,
                                    osp.basename(img_path))
            self._visualizer.add_datasample(
                osp.basename(img_path) if self.show else 'test_img',
                self._read_rgb(img_path),
                data_sample=data_sample,
                show=self.show,
                wait_time=self.wait_time,
                pred_score_thr=self.score_thr,
                out_file=out_file,
                step=self._test_index)
