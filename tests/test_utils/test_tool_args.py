"""The options every tool shares (--cfg-options, --launcher) and the
loading of the config they change."""
import argparse
import os
import re

from fcos_mm.utils.tool_args import (
    add_cfg_options,
    load_tool_config,
    parse_tool_args,
)


def test_parse_tool_args_adds_the_shared_options(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    args = parse_tool_args(parser, [
        'c.py', '--cfg-options', 'a.b=1', '--launcher', 'pytorch',
        '--local-rank', '3'
    ], 'a.b=2')
    assert args.cfg_options == {'a.b': 1}
    assert args.launcher == 'pytorch' and args.local_rank == 3
    assert os.environ['LOCAL_RANK'] == '3'
    assert 'e.g. a.b=2' in parser.format_help()
    monkeypatch.setenv('LOCAL_RANK', '1')  # a launcher's value wins
    parse_tool_args(argparse.ArgumentParser(), [], 'x=1')
    assert os.environ['LOCAL_RANK'] == '1'


def test_load_tool_config_merges_cfg_options(tmp_path):
    path = tmp_path / 'c.py'
    path.write_text('a = dict(b=1, c=2)\n')
    cfg = load_tool_config(
        argparse.Namespace(config=str(path), cfg_options={'a.b': 3}))
    assert cfg.a == dict(b=3, c=2)
    assert load_tool_config(
        argparse.Namespace(config=str(path), cfg_options=None)).a.b == 1


def test_add_cfg_options_parses_or_passes_on():
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    args = parser.parse_args(['--cfg-options', 'a.b=1', 'c=[1,2]'])
    assert args.cfg_options == {'a.b': 1, 'c': [1, 2]}
    assert parser.parse_args([]).cfg_options is None
    assert 'model.test_cfg.score_thr=0.3' in parser.format_help()
    # a tool that hands them to another keeps the strings
    parser = argparse.ArgumentParser()
    add_cfg_options(parser, 'x=1', passed_on_to='tools/train.py')
    assert parser.parse_args([]).cfg_options == []
    assert parser.parse_args(['--cfg-options', 'a=1']).cfg_options == ['a=1']
    assert 'passed on to tools/train.py' in parser.format_help()


def test_every_tool_defines_cfg_options_through_the_helper():
    import glob
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    tools = glob.glob(osp.join(root, 'tools', '**', '*.py'), recursive=True)
    assert tools
    for path in tools:
        with open(path) as file:
            assert not re.search(r"add_argument\(\s*'--cfg-options'",
                                 file.read()), path
