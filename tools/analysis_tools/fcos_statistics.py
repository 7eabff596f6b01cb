"""The FCOS paper's Tables 1 and 2 on a dataset, from its config alone.

Best possible recall of FCOS's label assignment and the ratio of ambiguous
positive locations, for a single level (P4) and for P3-P7 (FPN), with and
without centre sampling, plus positives per level. No model is built and
nothing is trained: the training assigner runs on the annotations (see
``fcos_mm.analysis.fcos_statistics`` for the definitions).

Example::

    python tools/analysis_tools/fcos_statistics.py configs/demo/fcos_demo.py

``--propose-ranges`` instead proposes regress ranges (and a centre-sampling
radius) that fit the training boxes after the pipeline's resize, with the
positives per level under the config's ranges and under the proposal, and
prints it as a config snippet and as ``--cfg-options``
(``fcos_mm.analysis.fcos_statistics.propose_regress_ranges``).
"""
import argparse
import itertools

import torch
from mmengine.registry import init_default_scope

from fcos_mm.analysis import (
    compute_statistics,
    format_tables,
    paper_settings,
    samples_from_dataset,
)
from fcos_mm.analysis.fcos_statistics import (
    FPN_REGRESS_RANGES,
    assigner_settings,
    format_proposal,
    propose_regress_ranges,
)
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a config with a dataset section')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='whose dataloader\'s dataset to read (default: train)')
    parser.add_argument(
        '--paper-ranges',
        action='store_true',
        help='use the paper\'s P3-P7 regress ranges (0, 64, 128, 256, 512, '
        'inf) even if the config\'s model.train_cfg.assigner sets others')
    parser.add_argument(
        '--center-sample-radius',
        type=float,
        default=None,
        help='radius of the centre-sampling rows, in strides (default: the '
        'config\'s assigner, else 1.5)')
    parser.add_argument(
        '--propose-ranges',
        action='store_true',
        help='propose regress ranges and a centre-sampling radius that '
        'spread the positives over the levels, instead of the tables')
    parser.add_argument(
        '--max-images',
        type=int,
        default=None,
        help='read only the first N images (default: all)')
    parser.add_argument(
        '--pad-size-divisor',
        type=int,
        default=32,
        help='what the data preprocessor pads the input to')
    add_cfg_options(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Thousands of assigner calls on small tensors: extra intra-op threads
    # only add overhead (about 5x slower with the default on 2 cores).
    torch.set_num_threads(1)
    cfg = load_tool_config(args)
    init_default_scope(cfg.get('default_scope', 'fcos_mm'))
    loader = cfg.get(f'{args.split}_dataloader')
    if loader is None:
        raise KeyError(f'{args.config} has no {args.split}_dataloader.')
    # The training assigner's ranges and radius, where the config has a
    # model with one: the statistics then describe that training run.
    assigner = cfg.get('model', {}).get('train_cfg', {}) or {}
    assigner = assigner.get('assigner', {}) or {}
    ranges = FPN_REGRESS_RANGES
    if not args.paper_ranges and 'regress_ranges' in assigner:
        ranges = tuple(tuple(r) for r in assigner['regress_ranges'])
    radius = args.center_sample_radius
    if radius is None:
        radius = assigner.get('center_sample_radius', 1.5)
    samples, num_classes = samples_from_dataset(loader.dataset)
    if args.max_images is not None:
        samples = itertools.islice(samples, args.max_images)
    if args.propose_ranges:
        settings = assigner_settings(cfg)
        proposal = propose_regress_ranges(
            samples,
            num_classes,
            ranges,
            strides=settings['strides'],
            center_sampling=settings['center_sampling'],
            center_sample_radius=radius,
            pad_size_divisor=args.pad_size_divisor)
        print(f'{args.split} set of {args.config}\n')
        print(format_proposal(proposal))
        return
    results = compute_statistics(
        samples,
        num_classes,
        paper_settings(radius, ranges),
        pad_size_divisor=args.pad_size_divisor)
    print(f'{args.split} set of {args.config}; P3-P7 regress ranges '
          f'{ranges}, centre sampling radius {radius}\n')
    print(format_tables(results))


if __name__ == '__main__':
    main()
