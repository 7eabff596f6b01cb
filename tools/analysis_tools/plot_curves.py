"""Plot the loss and metric curves of a training run from its JSON log.

Example::

    python tools/analysis_tools/plot_curves.py \
        work_dirs/demo/<timestamp>/vis_data/scalars.json \
        --out work_dirs/demo/curves.png
"""
import argparse
import os.path as osp

from fcos_mm.visualization.plot_curves import load_curves, plot_curves


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Plot losses and metrics from an mmengine JSON log.')
    parser.add_argument(
        'json_log', help='vis_data/scalars.json (or <timestamp>.json)')
    parser.add_argument(
        '--out',
        default=None,
        help='PNG to write; defaults to curves.png beside the log')
    parser.add_argument(
        '--loss-keys', nargs='+', default=None, help='losses to draw')
    parser.add_argument(
        '--metric-keys', nargs='+', default=None, help='metrics to draw')
    parser.add_argument('--title', default=None, help='figure title')
    return parser.parse_args()


def main() -> None:
    """Parse the log, draw it and say where the PNG is."""
    args = parse_args()
    out = args.out or osp.join(osp.dirname(args.json_log), 'curves.png')
    curves = load_curves(args.json_log)
    plot_curves(curves, out, args.loss_keys, args.metric_keys, args.title)
    for key, (steps, values) in curves.metrics.items():
        print(f'{key}: {values[-1]:.4f} at {curves.metric_unit} {steps[-1]}')
    print(f'Curves written to {out}')


if __name__ == '__main__':
    main()
