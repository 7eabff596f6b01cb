"""The FCOS paper's Tables 1 and 2 on a dataset, from its config alone.

Best possible recall of FCOS's label assignment and the ratio of ambiguous
positive locations, for a single level (P4) and for P3-P7 (FPN), with and
without centre sampling, plus positives per level. No model is built and
nothing is trained: the training assigner runs on the annotations (see
``fcos_mm.analysis.assignment_statistics`` for the definitions).

Example::

    python tools/analysis_tools/fcos_statistics.py configs/demo/fcos_demo.py
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from fcos_mm.analysis import (
    compute_statistics,
    format_tables,
    paper_settings,
    samples_from_dataset,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a config with a dataset section')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='whose dataloader\'s dataset to read (default: train)')
    parser.add_argument(
        '--center-sample-radius',
        type=float,
        default=1.5,
        help='radius of the centre-sampling rows, in strides')
    parser.add_argument(
        '--pad-size-divisor',
        type=int,
        default=32,
        help='what the data preprocessor pads the input to')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'fcos_mm'))
    loader = cfg.get(f'{args.split}_dataloader')
    if loader is None:
        raise KeyError(f'{args.config} has no {args.split}_dataloader.')
    samples, num_classes = samples_from_dataset(loader.dataset)
    results = compute_statistics(
        samples,
        num_classes,
        paper_settings(args.center_sample_radius),
        pad_size_divisor=args.pad_size_divisor)
    print(format_tables(results))


if __name__ == '__main__':
    main()
