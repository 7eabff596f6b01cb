"""Draw a config's images after its data pipeline, with their boxes.

    python tools/analysis_tools/browse_dataset.py CONFIG --out DIR
        [--split train|val|test] [--num-images 20] [--keep-random]
        [--cfg-options KEY=VALUE ...]

What the network gets (resized, padded as the pipeline does; random flips
dropped unless --keep-random) with the ground-truth boxes on it. See
fcos_mm/visualization/browse_dataset.py.
"""
import argparse

from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


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
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    from fcos_mm.visualization.browse_dataset import browse_dataset
    cfg = load_tool_config(args)
    written = browse_dataset(cfg, args.out, args.split,
                             args.num_images or None, args.keep_random)
    print(f'{len(written)} images drawn in {args.out}')
    return written


if __name__ == '__main__':
    main()
