"""Replay a batch the non-finite step guard skipped (saved by
``tools/train.py --dump-bad-batches``) and name where it goes non-finite.

    python tools/analysis_tools/replay_batch.py CONFIG CHECKPOINT \
        WORK_DIR/bad_batches/iter_N_rank0.pth

Prints the loss terms, the first module whose output holds NaN/inf, and the
first parameter whose gradient does. CHECKPOINT is the newest checkpoint of
the run (the guard leaves the weights as they were before the bad step).
"""
import argparse
import json

from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from fcos_mm.analysis.replay_batch import replay_batch
from fcos_mm.engine.bad_batch import load_bad_batch
from fcos_mm.registry import MODELS
from fcos_mm.utils import register_all_modules
from fcos_mm.utils.tool_args import add_cfg_options, load_tool_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the run\'s config file')
    parser.add_argument('checkpoint', help='the run\'s newest checkpoint')
    parser.add_argument('dump', help='a bad_batches/iter_N_rankR.pth file')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_tool_config(args)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    print(json.dumps(replay_batch(model, load_bad_batch(args.dump)),
                     indent=2))


if __name__ == '__main__':
    main()
