"""Convert an mmdet FCOS checkpoint (1.x to 3.x) to fcos_mm.

Our model keeps mmdet's parameter names (``backbone.*`` ResNet, ``neck.*``
FPN, ``bbox_head.*`` FCOSHead), so :func:`convert_mmdet_state_dict` only
renames the 1.x predictor layers (``fcos_cls`` / ``fcos_reg`` /
``fcos_centerness``, with the head's own ``rename_legacy_predictor``) and
drops a ``module.`` prefix. The result keeps the
weights and a small, ``weights_only``-loadable ``meta`` with the class names;
the optimizer and message hub are dropped. The source is read with fcos_mm's
safe loader.

Example::

    python tools/model_converters/mmdet2fcos_mm.py \
        fcos_r50_caffe_fpn_gn-head_1x_coco.pth fcos_r50_fpn_1x_coco.pth
"""
import argparse
from collections import OrderedDict

from converter_utils import (
    StateDict,
    save_converted,
    source_state_dict,
    strip_prefix,
)

from fcos_mm.models.dense_heads.fcos_head_compat import (
    rename_legacy_predictor,
)
from fcos_mm.utils import load_safely


def _plain(value):
    """``value`` made of builtin types only, so the converted checkpoint
    loads under the ``weights_only`` unpickler."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, 'tolist'):  # numpy / torch scalars and arrays
        return value.tolist()
    return str(value)


def convert_mmdet_state_dict(state_dict: StateDict) -> StateDict:
    """Rename an mmdet FCOS state dict to ours.

    Args:
        state_dict (dict[str, Tensor]): mmdet 1.x, 2.x or 3.x FCOS weights
            (a ``module.`` prefix from DistributedDataParallel is removed).

    Returns:
        dict[str, Tensor]: Weights with our names. Scales become 0-d, as
        mmcv's ``Scale`` holds them.
    """
    converted = OrderedDict()
    for key, value in strip_prefix(state_dict, 'module.').items():
        key = rename_legacy_predictor(key, 'bbox_head.')
        if key.startswith('bbox_head.scales.') and value.numel() == 1:
            value = value.reshape(())
        converted[key] = value
    return converted


def _mmdet_dataset_meta(meta: dict) -> dict:
    """Class names (and palette) from mmdet 3 (``dataset_meta``) or older
    (``CLASSES``) checkpoint meta."""
    if 'dataset_meta' in meta:
        return {k.lower(): v for k, v in meta['dataset_meta'].items()}
    if 'CLASSES' in meta:
        return {'classes': meta['CLASSES']}
    return {}


def convert_mmdet_checkpoint(checkpoint: dict) -> dict:
    """An mmdet FCOS checkpoint as ours: ``state_dict`` and a small ``meta``.

    ``meta`` keeps only builtin types (class names, palette, where it came
    from) so the result loads with ``weights_only=True``.

    Args:
        checkpoint (dict): As ``torch.load`` returns an mmdet checkpoint.

    Returns:
        dict: ``{'state_dict': ..., 'meta': ...}``.
    """
    state_dict = source_state_dict(checkpoint, ('state_dict', 'model'))
    source_meta = checkpoint.get('meta', {}) or {}
    meta = {'converted_from': 'mmdet'}
    if 'mmdet_version' in source_meta:
        meta['source_version'] = str(source_meta['mmdet_version'])
    dataset_meta = _mmdet_dataset_meta(source_meta)
    if dataset_meta:
        meta['dataset_meta'] = _plain(dataset_meta)
    return {
        'state_dict': convert_mmdet_state_dict(state_dict),
        'meta': meta
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='mmdet checkpoint')
    parser.add_argument('dst', help='where to write ours')
    args = parser.parse_args()
    checkpoint = convert_mmdet_checkpoint(
        load_safely(args.src, map_location='cpu'))
    save_converted(checkpoint, args.dst)
    print(f'{len(checkpoint["state_dict"])} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
