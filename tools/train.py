"""Train an FCOS detector from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [PATH]]
        [--auto-scale-lr] [--dump-bad-batches] [--compile] [--cuda-graphs]
        [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU / multi-process: tools/dist_train.sh or tools/slurm_train.sh.

Exit status: 0 trained to the end; 1 stopped with a message (NaN/inf, a
failed save, ...); 128 + N stopped by signal N (SIGINT 130, SIGUSR1 138,
SIGTERM 143) after saving latest.pth (see the README's "When a run is
stopped").
"""
import argparse
import sys

import fcos_mm  # noqa: F401  (version checks, safe checkpoint loading)
from fcos_mm.datasets.class_check import DataCheckError
from fcos_mm.engine.errors import TrainingPreempted, TrainingStopped
from fcos_mm.engine.pretrained import check_pretrained_sources
from fcos_mm.engine.runner_setup import (
    build_runner,
    check_before_first_step,
    setup_train_cfg,
)
from fcos_mm.utils.dist import destroy_dist
from fcos_mm.utils.tool_args import load_tool_config, parse_tool_args


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 with dynamic loss scale on CUDA, '
        'bfloat16 autocast on CPU')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by (total batch size) / '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from PATH, or without a value from the newest valid '
        'checkpoint in the work dir')
    parser.add_argument(
        '--dump-bad-batches',
        action='store_true',
        help='save the batch of each optimizer step skipped for NaN/inf '
        'under WORK_DIR/bad_batches/ (replay: '
        'tools/analysis_tools/replay_batch.py)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the forward and loss as one graph '
        '(model.compile_loss)')
    parser.add_argument(
        '--cuda-graphs',
        action='store_true',
        help='with --compile, also capture them in CUDA graphs '
        '(model.cuda_graphs; without CUDA, compiled without graphs)')
    return parse_tool_args(parser, argv, 'model.backbone.init_cfg=None')


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_tool_config(args)
    setup_train_cfg(
        cfg,
        config_path=args.config,
        work_dir=args.work_dir,
        amp=args.amp,
        resume=args.resume,
        auto_scale_lr=args.auto_scale_lr,
        dump_bad_batches=args.dump_bad_batches,
        compile_loss=args.compile,
        cuda_graphs=args.cuda_graphs)
    finished = False
    try:
        check_before_first_step(cfg, 'train')
    except DataCheckError as e:  # the whole message: each problem's fix
        sys.exit(f'fcos_mm: {e}')
    try:
        # an unreachable pretrained URL fails here, not after the build
        check_pretrained_sources(cfg)
        build_runner(cfg, args.launcher).train()
        finished = True
    except TrainingPreempted as e:
        # saved, logged, every rank stopped at the same iteration
        finished = True
        sys.exit(e.exit_code)
    except TrainingStopped as e:
        # The whole message (what is safe on disk, what to try) is in the
        # log already; exit 1 with its first line, not a traceback.
        sys.exit(f'fcos_mm: {str(e).splitlines()[0]}')
    finally:
        destroy_dist(wait_for_others=finished)


if __name__ == '__main__':
    main()
