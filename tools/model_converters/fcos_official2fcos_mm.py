"""Convert an official FCOS checkpoint (tianzhi0549/FCOS) to fcos_mm.

:func:`convert_official_state_dict` maps the maskrcnn-benchmark layout
(``module.`` prefix dropped; ``i`` a stacked conv, ``l`` a level)::

    backbone.body.stem.{conv1,bn1}   -> backbone.{conv1,bn1}
    backbone.body.layerN.j.*         -> backbone.layerN.j.*
    backbone.fpn.fpn_inner{2,3,4}    -> neck.lateral_convs.{0,1,2}.conv
    backbone.fpn.fpn_layer{2,3,4}    -> neck.fpn_convs.{0,1,2}.conv
    backbone.fpn.top_blocks.{p6,p7}  -> neck.fpn_convs.{3,4}.conv
    rpn.head.{cls,bbox}_tower.{3i}   -> bbox_head.{cls,reg}_convs.i.conv
    rpn.head.{cls,bbox}_tower.{3i+1} -> bbox_head.{cls,reg}_convs.i.gn
    rpn.head.cls_logits              -> bbox_head.conv_cls
    rpn.head.bbox_pred               -> bbox_head.conv_reg
    rpn.head.centerness              -> bbox_head.conv_centerness
    rpn.head.scales.l.scale (1,)     -> bbox_head.scales.l.scale ()

What the target config must say to compute the same function:

- FrozenBatchNorm2d normalises with ``running_var`` **without** an eps; our
  BN adds ``eps`` (``--bn-eps``, 1e-5). The converter folds the difference
  into the BN weight, ``weight * sqrt((var + eps) / var)``, so outputs match
  exactly; it adds the ``num_batches_tracked`` buffers BN expects.
- Its tower convs have biases: the head needs ``conv_bias=True``.
- P6 is computed from P5 when ``top_blocks.p6`` has the FPN's width as
  input, else from C5: ``add_extra_convs='on_output'`` or ``'on_input'``
  (printed here, see :func:`official_extra_convs_source`); ReLU before P7
  needs ``relu_before_extra_convs=True``.
- ResNet is MSRA/caffe style (stride in the 1x1 conv): ``style='caffe'``;
  input BGR in [0, 255] minus ``[102.9801, 115.9465, 122.7717]``, std 1: a
  data preprocessor with that mean, ``std=[1, 1, 1]``, ``bgr_to_rgb=False``.
- ``MODEL.FCOS.CENTERNESS_ON_REG`` and ``NORM_REG_TARGETS`` leave no trace in
  the weights: set ``centerness_on_reg`` and ``norm_on_bbox`` like the
  official config. (With ``NORM_REG_TARGETS`` the official test path skips
  the ReLU that mmdet's head applies, which only changes negative distances,
  i.e. invalid boxes.)
- A deformable conv in the tower (``USE_DCN_IN_TOWER``) or GN in the FPN is
  not supported: such keys are reported as unknown.

Example::

    python tools/model_converters/fcos_official2fcos_mm.py \
        FCOS_imprv_R_50_FPN_1x.pth fcos_imprv_r50_fpn_1x.pth --coco
"""
import argparse
import re
from collections import OrderedDict
from typing import List, Optional

import torch
from converter_utils import (
    StateDict,
    save_converted,
    source_state_dict,
    strip_prefix,
)

from fcos_mm.utils import load_safely


class UnknownKeysError(KeyError):
    """A source checkpoint holds parameters the converter cannot place."""


def _fold_frozen_bn(prefix: str, source: StateDict, eps: float) -> StateDict:
    """BatchNorm buffers computing what FrozenBatchNorm2d (no eps) did.

    FrozenBN: ``y = w * (x - m) / sqrt(v) + b``; BN: ``y = w' * (x - m) /
    sqrt(v + eps) + b``; equal when ``w' = w * sqrt((v + eps) / v)``.
    """
    weight = source[prefix + 'weight']
    var = source[prefix + 'running_var']
    if (var <= 0).any():
        raise ValueError(f'{prefix}running_var has non-positive entries; '
                         'a FrozenBatchNorm2d could not have used them.')
    return {
        'weight': weight * torch.sqrt((var + eps) / var),
        'bias': source[prefix + 'bias'],
        'running_mean': source[prefix + 'running_mean'],
        'running_var': var,
        'num_batches_tracked': torch.tensor(0, dtype=torch.long),
    }


_BN_FIELDS = ('weight', 'bias', 'running_mean', 'running_var')
_BODY_CONV = re.compile(r'^(layer\d+\.\d+\.(?:conv\d|downsample\.0))\.weight$')
_BODY_BN = re.compile(r'^(layer\d+\.\d+\.(?:bn\d|downsample\.1))\.'
                      r'(weight|bias|running_mean|running_var)$')
_FPN_BLOCK = re.compile(r'^fpn_(inner|layer)(\d+)\.(weight|bias)$')
_TOWER = re.compile(r'^(cls|bbox)_tower\.(\d+)\.(weight|bias)$')
_PREDICTORS = {
    'cls_logits': 'conv_cls',
    'bbox_pred': 'conv_reg',
    'centerness': 'conv_centerness'
}


def official_extra_convs_source(state_dict: StateDict) -> str:
    """Where the official model computes P6 from, as mmdet FPN's
    ``add_extra_convs`` value.

    ``LastLevelP6P7`` uses P5 when its input width equals the FPN width
    (``MODEL.RETINANET.USE_C5 = False``), else C5.

    Args:
        state_dict (dict[str, Tensor]): Official FCOS weights.

    Returns:
        str: ``'on_output'`` (P5) or ``'on_input'`` (C5).
    """
    sd = strip_prefix(state_dict, 'module.')
    p6 = sd['backbone.fpn.top_blocks.p6.weight']
    return 'on_output' if p6.shape[1] == p6.shape[0] else 'on_input'


def convert_official_state_dict(state_dict: StateDict,
                                bn_eps: float = 1e-5) -> StateDict:
    """Map official FCOS (maskrcnn-benchmark layout) weights to ours.

    Args:
        state_dict (dict[str, Tensor]): The official checkpoint's ``model``
            entry (``module.`` prefixes allowed).
        bn_eps (float): Eps of the target model's BatchNorm layers, folded
            into their weights. Defaults to 1e-5 (mmdet's ResNet).

    Returns:
        dict[str, Tensor]: Weights for our FCOS; see the module docstring
        for the config it needs.

    Raises:
        UnknownKeysError: Keys that have no place in our model (e.g. a
            deformable tower conv's offsets), all listed.
    """
    sd = strip_prefix(state_dict, 'module.')
    converted: StateDict = OrderedDict()
    unknown: List[str] = []
    bn_done = set()
    inner_levels = sorted({
        int(m.group(2))
        for m in map(_FPN_BLOCK.match, (
            k[len('backbone.fpn.'):] for k in sd
            if k.startswith('backbone.fpn.'))) if m
    })

    def put_bn(source_prefix: str, target_prefix: str) -> None:
        if source_prefix in bn_done:
            return
        bn_done.add(source_prefix)
        missing = [
            source_prefix + f for f in _BN_FIELDS
            if source_prefix + f not in sd
        ]
        if missing:
            raise UnknownKeysError(f'FrozenBatchNorm2d {source_prefix[:-1]} '
                                   f'lacks {missing}.')
        for name, value in _fold_frozen_bn(source_prefix, sd,
                                           bn_eps).items():
            converted[target_prefix + name] = value

    for key, value in sd.items():
        if key.startswith('backbone.body.'):
            name = key[len('backbone.body.'):]
            if name == 'stem.conv1.weight':
                converted['backbone.conv1.weight'] = value
                continue
            if name.startswith('stem.bn1.'):
                put_bn('backbone.body.stem.bn1.', 'backbone.bn1.')
                continue
            conv = _BODY_CONV.match(name)
            if conv:
                converted[f'backbone.{conv.group(1)}.weight'] = value
                continue
            bn = _BODY_BN.match(name)
            if bn:
                put_bn(f'backbone.body.{bn.group(1)}.',
                       f'backbone.{bn.group(1)}.')
                continue
        elif key.startswith('backbone.fpn.'):
            name = key[len('backbone.fpn.'):]
            block = _FPN_BLOCK.match(name)
            if block:
                kind, level, field = block.groups()
                index = inner_levels.index(int(level))
                target = 'lateral_convs' if kind == 'inner' else 'fpn_convs'
                converted[f'neck.{target}.{index}.conv.{field}'] = value
                continue
            top = re.match(r'^top_blocks\.p([67])\.(weight|bias)$', name)
            if top:
                index = len(inner_levels) + int(top.group(1)) - 6
                converted[f'neck.fpn_convs.{index}.conv.{top.group(2)}'] = \
                    value
                continue
        elif key.startswith('rpn.head.'):
            name = key[len('rpn.head.'):]
            tower = _TOWER.match(name)
            if tower:
                branch, index, field = tower.groups()
                # Sequential of (conv, GN, ReLU) per stacked conv.
                layer, kind = divmod(int(index), 3)
                target = 'cls_convs' if branch == 'cls' else 'reg_convs'
                if kind in (0, 1):
                    part = 'conv' if kind == 0 else 'gn'
                    converted[f'bbox_head.{target}.{layer}.{part}.{field}'] \
                        = value
                    continue
            predictor = name.split('.')[0]
            if predictor in _PREDICTORS and name.count('.') == 1:
                field = name.split('.')[1]
                converted[f'bbox_head.{_PREDICTORS[predictor]}.{field}'] = \
                    value
                continue
            scale = re.match(r'^scales\.(\d+)\.scale$', name)
            if scale:
                converted[f'bbox_head.scales.{scale.group(1)}.scale'] = \
                    value.reshape(())
                continue
        unknown.append(key)
    if unknown:
        raise UnknownKeysError(
            f'{len(unknown)} keys of the official checkpoint have no place '
            f'in our FCOS: {unknown}')
    return converted


def convert_official_checkpoint(checkpoint: dict,
                                bn_eps: float = 1e-5,
                                classes: Optional[List[str]] = None) -> dict:
    """An official FCOS checkpoint (``{'model': ..., 'optimizer': ...,
    'iteration': ...}``) as ours.

    Args:
        checkpoint (dict): As ``torch.load`` returns it.
        bn_eps (float): Target BatchNorm eps. Defaults to 1e-5.
        classes (list[str], optional): Class names to store in ``meta``
            (the official files have none). Defaults to None.

    Returns:
        dict: ``{'state_dict': ..., 'meta': ...}``, with
        ``meta['extra_convs_on']`` saying which ``add_extra_convs`` the
        config needs.
    """
    state_dict = source_state_dict(checkpoint, ('model', 'state_dict'))
    meta = {
        'converted_from': 'tianzhi0549/FCOS',
        'extra_convs_on': official_extra_convs_source(state_dict),
    }
    if 'iteration' in checkpoint:
        meta['iter'] = int(checkpoint['iteration'])
    if classes is not None:
        meta['dataset_meta'] = {'classes': list(classes)}
    return {
        'state_dict': convert_official_state_dict(state_dict, bn_eps),
        'meta': meta
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official FCOS checkpoint')
    parser.add_argument('dst', help='where to write ours')
    parser.add_argument(
        '--bn-eps',
        type=float,
        default=1e-5,
        help='eps of the target BatchNorm layers')
    parser.add_argument(
        '--coco',
        action='store_true',
        help='store the 80 COCO class names in meta')
    args = parser.parse_args()
    classes = None
    if args.coco:
        from mmdet.evaluation import get_classes
        classes = get_classes('coco')
    checkpoint = convert_official_checkpoint(
        load_safely(args.src, map_location='cpu'), args.bn_eps, classes)
    save_converted(checkpoint, args.dst)
    print(f'{len(checkpoint["state_dict"])} tensors written to {args.dst}; '
          f'the config needs neck.add_extra_convs='
          f'{checkpoint["meta"]["extra_convs_on"]!r}')


if __name__ == '__main__':
    main()
