"""Check the training and test images before the first iteration."""
import logging
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log

from fcos_mm.datasets.image_io import inspect_image_file
from fcos_mm.datasets.load_image_from_file import LoadImageFromFile
from fcos_mm.registry import HOOKS


def list_names(names: Sequence[str], max_listed: int) -> str:
    """``names`` joined by commas, the first ``max_listed`` and a count."""
    more = len(names) - max_listed
    return ', '.join(names[:max_listed]) + (f' and {more} more'
                                            if more > 0 else '')


def _leaf_datasets(dataset) -> Iterable:
    """The datasets holding a ``data_list`` inside dataset wrappers."""
    if hasattr(dataset, 'datasets'):  # ConcatDataset
        for child in dataset.datasets:
            yield from _leaf_datasets(child)
    elif hasattr(dataset, 'dataset'):  # RepeatDataset, ClassBalanced, ...
        yield from _leaf_datasets(dataset.dataset)
    else:
        yield dataset


def _loader(dataset) -> Optional[LoadImageFromFile]:
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms',
                         [])
    return next((transform for transform in transforms
                 if isinstance(transform, LoadImageFromFile)), None)


@HOOKS.register_module()
class CheckImagesHook(Hook):
    """Find missing (and, optionally, undecodable) training, validation and
    test images before training or testing starts, not when the loader
    reaches them.

    Checks the local files of every data set loaded by our
    :class:`~fcos_mm.datasets.LoadImageFromFile`. A bad training image with
    ``on_bad_image='raise'`` (default), any bad validation or test image,
    or a training set none of whose images can be loaded, is a
    :class:`RuntimeError` naming the files; with ``'skip'`` a warning names
    the training images that will be skipped.

    Args:
        decode (bool): Decode every image too, as
            ``tools/misc/check_dataset.py`` does (minutes for a large set);
            else one ``stat`` per image (a second for COCO's 118k).
            Defaults to False.
        workers (int): Threads for the check. Defaults to 8.
        max_listed (int): File names listed. Defaults to 10.
    """

    priority = 'VERY_HIGH'

    def __init__(self, decode: bool = False, workers: int = 8,
                 max_listed: int = 10) -> None:
        self.decode = decode
        self.workers = workers
        self.max_listed = max_listed

    def _problem(self, path: str, backend: str) -> Optional[str]:
        if not self.decode:
            return None if osp.isfile(path) else 'missing'
        info = inspect_image_file(path, backend)
        if info.get('missing'):
            return 'missing'
        return 'undecodable' if info.get('error') else None

    def _check(self, paths: List[str],
               backend: str) -> List[Tuple[str, str]]:
        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            problems = pool.map(self._problem, paths, [backend] * len(paths))
            return [(path, what) for path, what in zip(paths, problems)
                    if what]

    def _check_dataset(self, dataset, split: str) -> None:
        loader = _loader(dataset)
        if loader is None or loader.backend_args or getattr(
                loader, 'file_client_args', None):
            return  # not our loader, or not local files
        dataset.full_init()
        # The data list may be serialised: read it entry by entry.
        infos = (dataset.get_data_info(index) for index in range(len(dataset)))
        paths = [str(info['img_path']) for info in infos if 'img_path' in info]
        paths = [path for path in paths if '://' not in path]
        bad = self._check(paths, loader.imdecode_backend)
        if not bad:
            return
        listed = list_names([f'{path} ({what})' for path, what in bad],
                            self.max_listed)
        message = (f'{len(bad)} of the {len(paths)} {split} images of '
                   f'{getattr(dataset, "ann_file", "a data set")} '
                   f'cannot be loaded: {listed}.')
        if split == 'training' and len(bad) == len(paths):
            raise RuntimeError(
                f'{message} None of them can: is data_prefix.img (or '
                f'data_root) right? on_bad_image=\'skip\' would have no '
                f'image left to train on.')
        if split == 'training' and loader.on_bad_image == 'skip':
            print_log(f"{message} They will be skipped (on_bad_image='skip').",
                      logger='current', level=logging.WARNING)
        elif split == 'training':
            raise RuntimeError(
                f'{message} Fix or remove them (tools/misc/check_dataset.py '
                f"lists every problem), or set LoadImageFromFile("
                f"on_bad_image='skip') to train without them.")
        else:
            raise RuntimeError(
                f'{message} {split.capitalize()} needs every image (it '
                f'would stop at the first bad one); fix or remove them '
                f'(tools/misc/check_dataset.py lists every problem).')

    def before_train(self, runner) -> None:
        """Check the training images, then the validation images."""
        for dataset in _leaf_datasets(runner.train_dataloader.dataset):
            self._check_dataset(dataset, 'training')
        val_loader = getattr(getattr(runner, 'val_loop', None), 'dataloader',
                             None)
        if val_loader is not None:
            for dataset in _leaf_datasets(val_loader.dataset):
                self._check_dataset(dataset, 'validation')

    def before_test(self, runner) -> None:
        """Check the test images before the loader reads the first."""
        for dataset in _leaf_datasets(runner.test_loop.dataloader.dataset):
            self._check_dataset(dataset, 'testing')
