"""Draw a config's images after its data pipeline, with their boxes.

    python tools/analysis_tools/browse_dataset.py CONFIG --out DIR
        [--split train|val|test] [--num-images 20] [--keep-random]
        [--cfg-options KEY=VALUE ...]

What the network gets (resized, padded as the pipeline does; random flips
dropped unless --keep-random) with the ground-truth boxes on it. See
fcos_mm/analysis/browse_dataset.py.
"""
import argparse

from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--num-images', type=int, default=20,
                        help='images to draw (0: all)')
    parser.add_argument('--keep-random', action='store_true',
                        help='keep random flips')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    from fcos_mm.analysis.browse_dataset import browse_dataset
    from fcos_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    written = browse_dataset(cfg, args.out, args.split,
                             args.num_images or None, args.keep_random)
    print(f'{len(written)} images drawn in {args.out}')
    return written


if __name__ == '__main__':
    main()
