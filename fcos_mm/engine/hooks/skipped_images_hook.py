"""Log the images that the bad-image policy skipped during training."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from fcos_mm.datasets.coco import SKIPPED_IMAGES_KEY
from fcos_mm.registry import HOOKS

from .check_images_hook import list_names


@HOOKS.register_module()
class SkippedImagesHook(Hook):
    """Report the images that ``LoadImageFromFile(on_bad_image='skip')``
    left out, so that a skip is never silent.

    The records come with the batch (see :mod:`fcos_mm.datasets.coco`).
    Warnings: each image the first time it is skipped, with the reason; per
    training epoch and at the end of training, how many and which, summed
    over ranks. ``runner.message_hub`` keeps the list under
    ``skipped_images`` (info). Nothing is logged when nothing was skipped.

    Args:
        max_listed (int): At most this many files are named per summary
            line (the count is always complete). Defaults to 20.
    """

    priority = 'LOW'

    def __init__(self, max_listed: int = 20) -> None:
        self.max_listed = max_listed
        self._epoch: 'OrderedDict[str, Dict]' = OrderedDict()
        self._epoch_count = 0
        self._seen: 'OrderedDict[str, Dict]' = OrderedDict()
        self._total_count = 0

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        samples = (data_batch or {}).get('data_samples') or []
        for sample in samples:
            for record in getattr(sample, 'metainfo',
                                  {}).get(SKIPPED_IMAGES_KEY, []):
                self._add(runner, record)

    def _add(self, runner, record: Dict) -> None:
        path = record['img_path']
        self._epoch_count += 1
        self._total_count += 1
        self._epoch.setdefault(path, record)
        if path not in self._seen:
            self._seen[path] = record
            print_log(
                f'Image skipped (on_bad_image=\'skip\'), another one drawn '
                f'in its place: {record["reason"]} ({len(self._seen)} '
                f'different image(s) skipped so far on this rank.)',
                logger='current', level=logging.WARNING)
        runner.message_hub.update_info(SKIPPED_IMAGES_KEY, list(self._seen))

    def _gather(self, count: int, paths: List[str]):
        """Sum the count and merge the file lists over ranks."""
        if get_world_size() == 1:
            return count, paths
        gathered = all_gather_object((count, paths))
        total = sum(rank_count for rank_count, _ in gathered)
        merged = list(
            OrderedDict.fromkeys(path for _, rank_paths in gathered
                                 for path in rank_paths))
        return total, merged

    def _summary(self, what: str, count: int, paths: List[str]) -> str:
        return (f'{what}: {len(paths)} unreadable or missing image(s) '
                f'skipped ({count} time(s) in all; on_bad_image=\'skip\'): '
                f'{list_names(paths, self.max_listed)}.')

    def after_train_epoch(self, runner) -> None:
        # An iteration-based loop runs one "epoch": after_train sums it up.
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            count, paths = self._gather(self._epoch_count, list(self._epoch))
            if count and is_main_process():
                # The loop counts epochs from 0 and logs them from 1.
                print_log(
                    self._summary(f'Epoch {runner.epoch + 1}', count, paths),
                    logger='current', level=logging.WARNING)
        self._epoch.clear()
        self._epoch_count = 0

    def after_train(self, runner) -> None:
        count, paths = self._gather(self._total_count, list(self._seen))
        if count and is_main_process():
            print_log(self._summary('Training', count, paths),
                      logger='current', level=logging.WARNING)
