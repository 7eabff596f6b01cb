"""The README's demo: FCOS from scratch on synthetic shapes, on a CPU.

Generates ``data/synthetic/`` when missing, trains the demo config with
``tools/train.py``, evaluates the last checkpoint on the val split with
``tools/test.py`` (COCO bbox mAP) while drawing the detections, plots the
loss and mAP curves, writes the evaluation report (report.html) with
``tools/analysis_tools/eval_report.py`` from the test's predictions and
the training log, and prints where everything went::

    python tools/misc/run_demo.py            # what `make demo` runs

It calls the tools as a user would, with this interpreter, from the
repository root (the config's paths are relative to it).
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional

from fcos_mm.datasets.synthetic import generate_synthetic_coco
from fcos_mm.utils.tool_args import add_cfg_options
from fcos_mm.visualization.plot_curves import load_curves, plot_curves

REPO = osp.abspath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
DEMO_CONFIG = ('configs/demo/fcos_r18-w16_fpn-64_gn-head-center-normbbox-'
               'centeronreg-giou_1xb8-1000i_synthetic.py')
DATA_ROOT = 'data/synthetic'  # as in the config


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Train and evaluate FCOS on synthetic shapes (CPU demo).')
    parser.add_argument('--config', default=DEMO_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-val', type=int, default=100)
    add_cfg_options(
        parser, 'train_cfg.max_iters=200', passed_on_to='tools/train.py')
    parser.add_argument(
        '--num-show', type=int, default=5, help='drawn images to list')
    return parser.parse_args()


def run_tool(args: List[str]) -> None:
    """Run a tool of this repository with this interpreter; stop on error."""
    cmd = [sys.executable] + args
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def newest(pattern: str) -> Optional[str]:
    """The most recently modified path matching ``pattern``, if any."""
    paths = glob.glob(pattern)
    return max(paths, key=osp.getmtime) if paths else None


def main() -> None:
    """Run the whole demo and print a summary."""
    args = parse_args()
    os.chdir(REPO)
    work_dir = args.work_dir
    start = time.time()
    timings = {}

    ann_files = generate_synthetic_coco(DATA_ROOT, args.num_train,
                                        args.num_val)
    timings['data'] = time.time() - start

    train_args = ['tools/train.py', args.config, '--work-dir', work_dir]
    if args.cfg_options:
        train_args += ['--cfg-options'] + args.cfg_options
    tic = time.time()
    run_tool(train_args)
    timings['train'] = time.time() - tic
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = osp.relpath(f.read().strip())
    train_log = newest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))

    test_dir = osp.join(work_dir, 'test')
    predictions = osp.join(test_dir, 'predictions.pkl')
    test_args = [
        'tools/test.py', args.config, checkpoint, '--work-dir', test_dir,
        '--show-dir', 'vis', '--out', predictions
    ]
    if args.cfg_options:
        test_args += ['--cfg-options'] + args.cfg_options
    tic = time.time()
    run_tool(test_args)
    timings['test'] = time.time() - tic
    # LoggerHook dumps the test metrics to <test_dir>/<timestamp>/<ts>.json
    test_log = newest(osp.join(test_dir, '*', '*.json'))
    with open(test_log) as f:
        metrics = json.load(f)
    drawn = sorted(
        glob.glob(osp.join(osp.dirname(test_log), 'vis', '**', '*.png'),
                  recursive=True))

    curves_png = osp.join(work_dir, 'curves.png')
    plot_curves(
        load_curves(train_log),
        curves_png,
        title=osp.splitext(osp.basename(args.config))[0])
    report_dir = osp.join(work_dir, 'report')
    report_args = [
        'tools/analysis_tools/eval_report.py', args.config, predictions,
        '--out', report_dir, '--log', train_log
    ]
    if args.cfg_options:
        report_args += ['--cfg-options'] + args.cfg_options
    tic = time.time()
    run_tool(report_args)
    timings['report'] = time.time() - tic
    total = time.time() - start

    print('\n==== fcos_mm demo ====')
    print(f'data        : {ann_files["train"]}, {ann_files["val"]}')
    print(f'config      : {args.config}')
    print(f'checkpoint  : {checkpoint}')
    print(f'train log   : {train_log}')
    print(f'curves      : {curves_png}')
    print(f'report      : {osp.join(report_dir, "report.html")} (open it '
          'in a browser; works offline)')
    print(f'detections  : {len(drawn)} val images drawn under '
          f'{osp.dirname(drawn[0]) if drawn else "(none found)"}')
    for path in drawn[:args.num_show]:
        print(f'              {path}')
    print('time (s)    : ' + ', '.join(f'{k} {v:.0f}'
                                      for k, v in timings.items()) +
          f', total {total:.0f}')
    for key in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75'):
        value = metrics.get(f'coco/{key}')
        if value is not None:
            print(f'{key:<12}: {value:.3f}')


if __name__ == '__main__':
    main()
