"""Check the data sets of a config before training.

    python tools/misc/check_dataset.py CONFIG [--split train|val|test|all]
        [--workers 8] [--cfg-options key=value ...]

Reads every annotation and decodes every image (in parallel, with the
training loader's decoder) and reports all problems at once, counted per
kind with the first file names; first the config's classes and counts
against the annotation files and the head (the check tools/train.py and
tools/test.py make before the first step). Exit status 1 when something
would stop training (missing or undecodable images, annotations the dataset
refuses, classes or counts that do not match). See
fcos_mm/datasets/check_dataset.py for what is checked. For an FCOS model it
also warns when most positive locations fall on one pyramid level, with
regress ranges that fit (fcos_mm/analysis/level_check.py).
"""
import argparse
import sys

from fcos_mm.analysis.level_check import check_level_balance
from fcos_mm.datasets.check_dataset import LOADER_KEYS, run_check
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Check annotations and images of a config\'s data sets')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', choices=list(LOADER_KEYS) + ['all'],
                        default='all', help='which loaders\' data sets')
    parser.add_argument('--workers', type=int, default=8,
                        help='threads decoding images')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    add_cfg_options(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    splits = list(LOADER_KEYS) if args.split == 'all' else [args.split]
    reports, text = run_check(cfg, splits, args.workers,
                              not args.no_progress,
                              model_checks=[check_level_balance])
    print(text)
    sys.exit(1 if any(r.count('error') for r in reports) else 0)


if __name__ == '__main__':
    main()
