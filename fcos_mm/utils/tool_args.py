"""The command-line options every tool shares, defined once: the config's
``--cfg-options`` (and, for the tools that start a runner, ``--launcher``
and ``--local-rank``), and the loading of the config they change.

A tool adds its own arguments, then::

    add_cfg_options(parser)            # or parse_tool_args(...) with a
    args = parser.parse_args()         # launcher (tools/train.py, test.py)
    cfg = load_tool_config(args)       # args.config + args.cfg_options
"""
import argparse
import os
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from .dist import LAUNCHERS

#: The example of ``--cfg-options``' help unless a tool gives its own.
CFG_OPTIONS_EXAMPLE = 'model.test_cfg.score_thr=0.3'


def add_cfg_options(parser: argparse.ArgumentParser,
                    example: str = CFG_OPTIONS_EXAMPLE,
                    passed_on_to: Optional[str] = None) -> None:
    """Add ``--cfg-options KEY=VALUE ...`` to ``parser``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        example (str): A ``KEY=VALUE`` for the help.
        passed_on_to (str, optional): The tool the options are handed to
            unparsed: ``args.cfg_options`` is then the list of
            ``KEY=VALUE`` strings (default ``[]``), not a dict.
    """
    if passed_on_to is not None:
        parser.add_argument(
            '--cfg-options',
            nargs='+',
            default=[],
            help=f'passed on to {passed_on_to}, e.g. {example}')
        return
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings, e.g. {example}')


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]],
                    cfg_options_example: str) -> argparse.Namespace:
    """Add the options the runner tools end with (``--cfg-options``,
    ``--launcher``, ``--local-rank`` or older launchers' ``--local_rank``),
    parse ``argv`` and export ``LOCAL_RANK`` unless it is set.

    Args:
        parser (argparse.ArgumentParser): The tool's parser, its own
            arguments added.
        argv (Sequence[str], optional): The arguments; None reads
            ``sys.argv``.
        cfg_options_example (str): A ``KEY=VALUE`` for ``--cfg-options``'s
            help.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    add_cfg_options(parser, cfg_options_example)
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_tool_config(args: argparse.Namespace) -> Config:
    """Register our modules (not the default scope: the config sets it),
    load ``args.config`` and merge ``args.cfg_options`` into it."""
    from .setup_env import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg
