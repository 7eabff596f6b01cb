"""Build a trained detector and run it on images.

Differences from ``mmdet.apis``: :func:`init_detector` drops every
``init_cfg`` (mmdet: the backbone's), refuses a checkpoint trained for
another number of classes (mmdet prints "size mismatch" and predicts with a
random classifier), also takes an ``.onnx`` or OpenVINO ``model.xml``
export and can prepare fast CPU inference (bf16, compiled);
:func:`inference_detector` checks each image first and names the one that
fails.
"""
import copy
import os.path as osp
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import (
    _load_checkpoint,
    _load_checkpoint_to_model,
)

from fcos_mm.deployment.exported_detector import (
    EXPORTED_SUFFIXES,
    exported_model_cfg,
)
from fcos_mm.registry import DATASETS, MODELS, SCOPE
from fcos_mm.utils import build_test_pipeline, register_safe_checkpoint_loader
from fcos_mm.utils.checkpoint import check_checkpoint_classes

ImagesType = Union[str, Path, np.ndarray, Sequence[Union[str, Path,
                                                         np.ndarray]]]


def _load_config(config: Union[str, Path, Config]) -> Config:
    """A copy of ``config``, read from disk when it is a path."""
    if isinstance(config, (str, Path)):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'Config file {config} does not exist.')
        return Config.fromfile(str(config))
    if isinstance(config, Config):
        return copy.deepcopy(config)
    raise TypeError('config must be a file name or a Config, but got '
                    f'{type(config).__name__}.')


def _switch_off_pretrained(model_cfg: ConfigDict) -> None:
    """Drop ``init_cfg`` everywhere so that building downloads nothing:
    the weights come from the checkpoint (or stay random)."""
    if isinstance(model_cfg, dict):
        if 'init_cfg' in model_cfg:
            model_cfg['init_cfg'] = None
        for value in model_cfg.values():
            _switch_off_pretrained(value)
    elif isinstance(model_cfg, (list, tuple)):
        for value in model_cfg:
            _switch_off_pretrained(value)


def _dataset_meta_from_config(config: Config) -> dict:
    """The test (or val) dataset's ``metainfo``, built with ``lazy_init``."""
    for key in ('test_dataloader', 'val_dataloader'):
        loader = config.get(key)
        if loader is None or 'dataset' not in loader:
            continue
        dataset_cfg = copy.deepcopy(loader.dataset)
        dataset_cfg['lazy_init'] = True
        try:
            return dict(DATASETS.build(dataset_cfg).metainfo)
        except Exception as e:  # a broken data section should not stop us
            warnings.warn(f'Could not read the class names of the '
                          f'{key} dataset ({e}).')
    return {}


def _dataset_meta_from_checkpoint(checkpoint: dict) -> dict:
    """Classes / palette stored by the Runner or old mmdet's ``CLASSES``."""
    meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    if 'dataset_meta' in meta:
        return {key.lower(): value
                for key, value in meta['dataset_meta'].items()}
    if 'CLASSES' in meta:
        return {'classes': meta['CLASSES']}
    return {}


def init_detector(config: Union[str, Path, Config],
                  checkpoint: Optional[str] = None,
                  device: str = 'cpu',
                  cfg_options: Optional[dict] = None,
                  amp: Optional[bool] = None,
                  precision: str = 'auto',
                  compile: bool = False) -> nn.Module:
    """Build a detector from a config and load a checkpoint into it.

    ``model.dataset_meta`` gets the class names and palette of the
    checkpoint, else of the config's test dataset. A ``checkpoint`` ending
    in ``.onnx`` gives an :class:`~fcos_mm.deployment.ONNXRuntimeDetector`,
    one ending in ``.xml`` an :class:`~fcos_mm.deployment.OpenVINODetector`
    (CPU only; a file exported from another config is refused). On CPU,
    ``amp`` applies :func:`~fcos_mm.deployment.prepare_cpu_inference` (a
    warning when it stays fp32) and ``compile``
    :func:`~fcos_mm.deployment.compile_for_cpu`; the note is
    ``model.inference_note``.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint file, loaded with fcos_mm's
            safe loader (:mod:`fcos_mm.utils.checkpoint`). Defaults to None.
        device (str): E.g. ``'cpu'`` or ``'cuda:0'``. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Options merged into the config,
            e.g. ``{'model.test_cfg.score_thr': 0.3}``. Defaults to None.
        amp (bool, optional): Fast CPU inference; None takes the config's
            ``inference_amp`` (default False).
        precision (str): OpenVINO models: ``'auto'`` (bf16 where the CPU
            has bf16 units, else f32), ``'f32'`` or ``'bf16'``. Defaults to
            ``'auto'``.
        compile (bool): ``torch.compile`` backbone, neck and head on CPU
            (with ``amp``'s bf16 when set). Defaults to False.

    Returns:
        nn.Module: The detector in eval mode, with ``cfg`` (the config used)
        and ``dataset_meta`` attributes.

    Raises:
        ValueError: ``checkpoint`` was trained for another number of classes
            than the config's head has (the message names both and the
            fix).
    """
    config = _load_config(config)
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError('The config has no `model` section.')
    _switch_off_pretrained(config.model)
    init_default_scope(config.get('default_scope', SCOPE) or SCOPE)

    if checkpoint is not None and str(checkpoint).endswith(EXPORTED_SUFFIXES):
        return _init_exported_detector(config, str(checkpoint), device,
                                       precision)
    model = revert_sync_batchnorm(MODELS.build(config.model))
    dataset_meta = {}
    if checkpoint is not None:
        if not osp.isfile(osp.expanduser(str(checkpoint))):
            raise FileNotFoundError(
                f'Checkpoint file {checkpoint} does not exist.')
        register_safe_checkpoint_loader()
        loaded = _load_checkpoint(str(checkpoint), map_location='cpu')
        check_checkpoint_classes(loaded, model, str(checkpoint))
        _load_checkpoint_to_model(model, loaded)
        dataset_meta = _dataset_meta_from_checkpoint(loaded)
    _attach_meta(model, config, dataset_meta)
    model.to(device)
    model.eval()
    if amp is None:
        amp = bool(config.get('inference_amp', False))
    if (amp or compile) and str(device).startswith('cpu'):
        from fcos_mm.deployment import compile_for_cpu, prepare_cpu_inference
        model.inference_note = prepare_cpu_inference(model, amp=bool(amp))
        if amp and model.inference_autocast is None:
            warnings.warn(f'init_detector(amp=True): {model.inference_note}')
        if compile:
            model.inference_note += '; ' + compile_for_cpu(model)
    elif compile:
        warnings.warn(f'init_detector(compile=True) compiles on the CPU '
                      f'only; {device} runs eager')
    return model


def _attach_meta(model: nn.Module, config: Config,
                 dataset_meta: dict) -> None:
    """Set ``model.cfg`` and ``model.dataset_meta`` (completed from the
    config's test dataset, palette ``'random'`` if none)."""
    for key, value in _dataset_meta_from_config(config).items():
        dataset_meta.setdefault(key, value)
    if 'classes' not in dataset_meta:
        warnings.warn('Neither the checkpoint nor the config names the '
                      'classes; predictions will carry label indices only.')
    if dataset_meta.get('palette') is None:
        dataset_meta['palette'] = 'random'
    model.dataset_meta = dataset_meta
    model.cfg = config


def _init_exported_detector(config: Config, model_file: str, device: str,
                            precision: str) -> nn.Module:
    """An ``ONNXRuntimeDetector`` or ``OpenVINODetector`` with the config's
    data preprocessor."""
    if not str(device).startswith('cpu'):
        raise ValueError(f'Exported models ({model_file}) run on the CPU '
                         f'(onnxruntime, OpenVINO), got device={device!r}')
    # the detectors say when the file does not exist
    model = MODELS.build(
        exported_model_cfg(config, osp.expanduser(model_file), precision))
    dataset_meta = {}
    if model.classes is not None:  # the checkpoint's, stored at export
        dataset_meta['classes'] = tuple(model.classes)
    config_classes = _dataset_meta_from_config(config).get('classes')
    if config_classes is not None:
        model.check_config(classes=config_classes)
    _attach_meta(model, config, dataset_meta)
    model.eval()
    return model


def _check_image(img: Union[str, Path, np.ndarray], index: int) -> None:
    """Raise a clear error for an image that cannot be read."""
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3) or img.size == 0:
            raise ValueError(f'Image {index} is an array of shape '
                             f'{img.shape}; expected (H, W) or (H, W, 3).')
        return
    if not isinstance(img, (str, Path)):
        raise TypeError(f'Image {index} is a {type(img).__name__}; expected '
                        'a file name or a numpy array.')
    if not osp.isfile(str(img)):
        raise FileNotFoundError(f'Image file {img} does not exist.')


def inference_detector(
        model: nn.Module,
        imgs: ImagesType) -> Union[DetDataSample, List[DetDataSample]]:
    """Detect objects in one image or a batch.

    Args:
        model (nn.Module): A detector from :func:`init_detector`.
        imgs (str | Path | np.ndarray | Sequence): An image file, an image
            array in BGR order (as ``mmcv.imread`` returns it), or a list
            or tuple of them.

    Returns:
        DetDataSample | list[DetDataSample]: One result per image (a list
        when ``imgs`` is a list or tuple), boxes in original-image pixels.
    """
    is_batch = isinstance(imgs, (list, tuple))
    images = list(imgs) if is_batch else [imgs]
    if not images:
        return []
    for index, img in enumerate(images):
        _check_image(img, index)

    pipelines = {}
    batch = []
    for img in images:
        from_array = isinstance(img, np.ndarray)
        if from_array not in pipelines:
            pipelines[from_array] = build_test_pipeline(model.cfg, from_array)
        data = dict(img=img) if from_array else dict(img_path=str(img))
        # Test pipelines pack `img_id` into the metainfo.
        data['img_id'] = 0
        try:
            batch.append(pipelines[from_array](data))
        except Exception as e:
            name = 'an array' if from_array else f'file {img}'
            raise RuntimeError(
                f'Could not prepare image {name}: {e}') from e

    with torch.no_grad():
        results = model.test_step(pseudo_collate(batch))
    return results if is_batch else results[0]
