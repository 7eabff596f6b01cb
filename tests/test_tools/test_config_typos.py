"""tools/train.py and tools/test.py stop on a config typo before the runner
starts: nothing is written, and the error names the key, the closest known
name and the fix."""
import importlib.util
import os.path as osp

import pytest

from fcos_mm.engine.config_check import ConfigKeyError

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('option, expected', [
    ('default_hooks.checkpoint.intervl=1',
     "default_hooks.checkpoint.intervl: CheckpointHook has no argument "
     "'intervl'; did you mean 'interval'? Fix: rename it in the config, or "
     'on the command line --cfg-options '
     'default_hooks.checkpoint.interval=VALUE.'),
    ('laod_from=coco.pth',
     "unknown top-level key 'laod_from': did you mean 'load_from'?"),
], ids=['hook-argument', 'top-level-key'])
@pytest.mark.parametrize('tool', ['train', 'test'])
def test_a_typo_stops_the_tool_before_anything_is_written(
        tmp_path, tiny_config, monkeypatch, tool, option, expected):
    monkeypatch.syspath_prepend(str(tmp_path))  # the config's helper hooks
    config = tiny_config(evaluation=True)
    work_dir = tmp_path / 'work'
    argv = [config] + (['no.pth'] if tool == 'test' else []) + [
        '--work-dir', str(work_dir), '--cfg-options', option]
    with pytest.raises(ConfigKeyError) as error:
        _tool(tool).main(argv)
    assert expected in str(error.value)
    assert config in str(error.value)
    assert not work_dir.exists()
