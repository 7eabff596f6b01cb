"""mmdet 3.3's FCOS built from one of our model configs: the twin every
side-by-side benchmark and parity test compares ours against.

Differences of the config from ours, written once here: the types are in
the ``mmdet.`` scope; the assigner's options (``train_cfg.assigner``) go
back to mmdet's head, which assigns itself, and ``train_cfg`` is dropped;
``use_centerness`` is ours only (mmdet's head always has center-ness); the
backbone's ``init_cfg`` is dropped, so that nothing is downloaded. It is
built in mmdet's default scope, so that what its parts build (losses, box
coder, prior generator) is mmdet's too, whatever the config names.
"""
import copy
import logging
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

PARTS = ('data_preprocessor', 'backbone', 'neck', 'bbox_head')


def mmdet_model_cfg(model_cfg: dict) -> ConfigDict:
    """mmdet 3.3's config of the same FCOS as our ``model`` config.

    Raises:
        ValueError: The config uses something mmdet's FCOS lacks
            (``use_centerness=False``).
    """
    from fcos_mm.models.dense_heads.fcos_head_compat import ASSIGNER_KWARGS
    if not model_cfg['bbox_head'].get('use_centerness', True):
        raise ValueError("mmdet's FCOSHead always has center-ness; "
                         'use_centerness=False cannot be compared')
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    assigner = (cfg.pop('train_cfg', None) or {}).get('assigner') or {}
    for key in ASSIGNER_KWARGS:
        if key in assigner:
            cfg.bbox_head[key] = assigner[key]
    cfg.bbox_head.pop('use_centerness', None)
    cfg.backbone.pop('init_cfg', None)
    for key in PARTS:
        part = cfg.get(key)
        if isinstance(part, dict) and '.' not in str(part.get('type', '.')):
            part['type'] = 'mmdet.' + part['type']
    cfg.type = 'mmdet.FCOS'
    return cfg


def build_mmdet_fcos(model_cfg: dict,
                     state_dict: Optional[dict] = None) -> nn.Module:
    """mmdet 3.3's FCOS from our config, in eval mode: with our weights
    (``state_dict``, the same parameter names, loaded with
    ``strict=True``), else initialised as mmdet initialises it.

    Args:
        model_cfg (dict): ``cfg.model`` of one of our FCOS configs.
        state_dict (dict, optional): Our detector's ``state_dict()``.
    """
    from mmdet.registry import MODELS

    # the parts a part builds (losses, coder, prior generator) mmdet's too
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(mmdet_model_cfg(model_cfg))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    else:
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights lists every param
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    return model.eval()


def build_pair(model_cfg: dict,
               device: str = 'cpu') -> Tuple[nn.Module, nn.Module]:
    """``(mmdet_model, ours)`` in train mode on ``device``: mmdet's twin
    initialised as mmdet does, ours built from ``model_cfg`` (the
    backbone's pretrained init dropped) and loaded with its weights."""
    from fcos_mm.registry import MODELS
    mm_model = build_mmdet_fcos(model_cfg)
    model_cfg = ConfigDict(copy.deepcopy(model_cfg))
    model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        ours = MODELS.build(model_cfg)
    ours.load_state_dict(mm_model.state_dict(), strict=True)
    return mm_model.to(device).train(), ours.to(device).train()
