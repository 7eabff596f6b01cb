"""The command-line options every tool shares, defined once: the config's
``--cfg-options`` (and, for the tools that start a runner, ``--launcher``
and ``--local-rank``), and the loading of the config they change.

A tool adds its own arguments, then::

    add_cfg_options(parser)            # or parse_tool_args(...) with a
    args = parser.parse_args()         # launcher (tools/train.py, test.py)
    cfg = load_tool_config(args)       # args.config + args.cfg_options
"""
import argparse
import ast
import os
from typing import Any, Mapping, Optional, Sequence

from mmengine.config import Config, ConfigDict, DictAction

from .dist import LAUNCHERS

#: The example of ``--cfg-options``' help unless a tool gives its own.
CFG_OPTIONS_EXAMPLE = 'model.test_cfg.score_thr=0.3'


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` that also reads a ``dict(k=v, ...)``
    value (``optim_wrapper.clip_grad=dict(max_norm=35,norm_type=2)``),
    which mmengine's recurses on forever, and turns any value it cannot
    read into an argparse error naming the key and the dotted form."""

    @classmethod
    def _parse_value(cls, text: str) -> Any:
        text = text.strip().strip('\'"')
        if text.replace(' ', '').startswith('dict('):
            node = ast.parse(text, mode='eval').body
            if not (isinstance(node, ast.Call) and not node.args
                    and getattr(node.func, 'id', None) == 'dict'):
                raise ValueError(f'cannot read {text!r}')
            return ConfigDict({
                keyword.arg:
                cls._parse_value(ast.get_source_segment(text, keyword.value))
                for keyword in node.keywords
            })
        return cls._parse_iterable(text)

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values or []:
            key, _, text = item.partition('=')
            try:
                options[key] = self._parse_value(text)
            except (ValueError, SyntaxError, RecursionError, AssertionError):
                parser.error(
                    f'--cfg-options {item}: cannot read the value of {key}. '
                    f'Give a dict as one option per field ({key}.FIELD='
                    f'VALUE ...) or as dict(FIELD=VALUE,...) without '
                    f'spaces.')
        setattr(namespace, self.dest, options)


def merge_cfg_options(cfg: Config, options: Mapping[str, Any]) -> None:
    """``cfg.merge_from_dict(options)``, where a dotted key may also go
    through a setting that is None (``optim_wrapper.clip_grad.max_norm=35``
    with ``clip_grad=None``: None is "off", a field turns it on) and a dict
    value may replace a None, which mmengine refuses (asking for
    ``_delete_=True``)."""
    for key, value in options.items():
        parts = key.split('.')
        node = cfg
        for depth, part in enumerate(parts):
            if not isinstance(node, (Config, dict)) or part not in node:
                break
            deeper = depth < len(parts) - 1
            if node[part] is None and (deeper or isinstance(value, dict)):
                node[part] = ConfigDict()
                break
            node = node[part]
    cfg.merge_from_dict(dict(options))


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
        action=CfgOptionsAction,
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
        merge_cfg_options(cfg, args.cfg_options)
    return cfg
