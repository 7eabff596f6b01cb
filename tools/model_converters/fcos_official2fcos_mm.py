"""Convert an official FCOS checkpoint (tianzhi0549/FCOS) to fcos_mm.

The target config must match the official one: caffe-style ResNet and
data preprocessor (BGR, mean [102.9801, 115.9465, 122.7717], std 1),
``conv_bias=True`` in the head, ``centerness_on_reg`` / ``norm_on_bbox`` as
the official ``CENTERNESS_ON_REG`` / ``NORM_REG_TARGETS``, and the FPN's
``add_extra_convs`` as printed here (see
``fcos_mm.analysis.checkpoint_converters``).

Example::

    python tools/model_converters/fcos_official2fcos_mm.py \
        FCOS_imprv_R_50_FPN_1x.pth fcos_imprv_r50_fpn_1x.pth --coco
"""
import argparse

import torch

from fcos_mm.analysis import convert_official_checkpoint
from fcos_mm.utils import load_safely


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
    torch.save(checkpoint, args.dst)
    print(f'{len(checkpoint["state_dict"])} tensors written to {args.dst}; '
          f'the config needs neck.add_extra_convs='
          f'{checkpoint["meta"]["extra_convs_on"]!r}')


if __name__ == '__main__':
    main()
