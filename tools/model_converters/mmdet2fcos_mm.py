"""Convert an mmdet FCOS checkpoint (1.x to 3.x) to fcos_mm.

Keeps the weights (renaming mmdet 1.x predictor layers) and a small,
``weights_only``-loadable ``meta`` with the class names; drops the optimizer
and message hub. The source is read with fcos_mm's safe loader.

Example::

    python tools/model_converters/mmdet2fcos_mm.py \
        fcos_r50_caffe_fpn_gn-head_1x_coco.pth fcos_r50_fpn_1x_coco.pth
"""
import argparse

import torch

from fcos_mm.analysis import convert_mmdet_checkpoint
from fcos_mm.utils import load_safely


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='mmdet checkpoint')
    parser.add_argument('dst', help='where to write ours')
    args = parser.parse_args()
    checkpoint = convert_mmdet_checkpoint(
        load_safely(args.src, map_location='cpu'))
    torch.save(checkpoint, args.dst)
    print(f'{len(checkpoint["state_dict"])} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
