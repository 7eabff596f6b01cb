"""Generate the synthetic shapes data set of the demo in COCO format.

Example::

    python tools/misc/gen_synthetic_coco.py data/synthetic --num-train 1000
"""
import argparse

from fcos_mm.datasets.synthetic import DEMO_IMG_SIZE, generate_synthetic_coco


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Draw the synthetic shapes data set (COCO format).')
    parser.add_argument(
        'data_root', nargs='?', default='data/synthetic',
        help='output folder')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-size', type=int, default=DEMO_IMG_SIZE)
    parser.add_argument(
        '--force', action='store_true',
        help='regenerate even if the splits are already complete')
    return parser.parse_args()


def main() -> None:
    """Generate the splits and print their annotation files."""
    args = parse_args()
    ann_files = generate_synthetic_coco(args.data_root, args.num_train,
                                        args.num_val, args.seed,
                                        args.img_size, args.force)
    for split, ann_file in ann_files.items():
        print(f'{split}: {ann_file}')


if __name__ == '__main__':
    main()
