"""Convert Pascal VOC XML annotations to COCO json, one file per split.

    python tools/dataset_converters/pascal_voc.py VOC_ROOT -o OUT_DIR
        [--img-dir JPEGImages] [--ann-dir Annotations]
        [--split-dir ImageSets/Main] [--classes a b ...]
        [--val-frac 0.2] [--seed 0] [--difficult ignore|drop|keep]

Folders are relative to VOC_ROOT (or absolute). With split files
(train/val/trainval/test.txt in --split-dir) one json per split file; without,
train.json and val.json from a seeded shuffle. Coordinates, difficult
objects and class names: see fcos_mm/datasets/pascal_voc.py.
"""
import argparse
import os.path as osp
import sys

from fcos_mm.datasets.pascal_voc import DIFFICULT_POLICIES, convert_voc_to_coco


def parse_args():
    parser = argparse.ArgumentParser(
        description='Pascal VOC XML annotations to COCO json per split')
    parser.add_argument('root', help='VOC folder')
    parser.add_argument('-o', '--out-dir', required=True,
                        help='where <split>.json files are written')
    parser.add_argument('--img-dir', default='JPEGImages',
                        help='images folder (relative to root)')
    parser.add_argument('--ann-dir', default='Annotations',
                        help='XML folder (relative to root)')
    parser.add_argument('--split-dir', default='ImageSets/Main',
                        help='folder of train/val/trainval/test.txt, if any')
    parser.add_argument('--classes', nargs='+',
                        help='class names in label order (default: the '
                        'names in the XML files, sorted)')
    parser.add_argument('--val-frac', type=float, default=0.2,
                        help='without split files: fraction for val')
    parser.add_argument('--seed', type=int, default=0,
                        help='without split files: seed of the shuffle')
    parser.add_argument('--difficult', choices=DIFFICULT_POLICIES,
                        default='ignore',
                        help='difficult objects: ignore (iscrowd=1, '
                        'default), drop, or keep as ordinary boxes')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        files, summary = convert_voc_to_coco(
            img_dir=osp.join(args.root, args.img_dir),
            ann_dir=osp.join(args.root, args.ann_dir),
            out_dir=args.out_dir,
            split_dir=osp.join(args.root, args.split_dir),
            classes=args.classes,
            val_frac=args.val_frac,
            seed=args.seed,
            difficult=args.difficult)
    except (FileNotFoundError, ValueError) as e:  # each names the file
        sys.exit(f'pascal_voc.py: {e}')
    print(summary.format())
    for split, path in files.items():
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
