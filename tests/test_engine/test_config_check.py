"""Config typos are named before the runner starts: unknown top-level keys
(with the closest runner key, or the mmengine home of an mmdet 2.x key) and
unknown hook arguments; no config in configs/ raises or warns."""
import glob
import inspect
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook

from fcos_mm.engine import CheckpointHook
from fcos_mm.engine.config_check import (
    ConfigKeyError,
    check_config,
    check_config_keys,
    check_hook_arguments,
    closest,
    known_config_keys,
)
from fcos_mm.utils import register_all_modules

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')


@pytest.fixture(autouse=True, scope='module')
def registered():
    register_all_modules(init_default_scope=False)


def _from_text(tmp_path, text, name='my_config.py'):
    path = tmp_path / name
    path.write_text(text)
    return Config.fromfile(str(path)), str(path)


def test_misspelt_runner_key_is_an_error_naming_key_suggestion_and_file(
        tmp_path):
    cfg, path = _from_text(
        tmp_path, "load_from = None\nlaod_from = 'coco.pth'\n")
    with pytest.raises(ConfigKeyError) as error:
        check_config_keys(cfg)
    message = str(error.value)
    assert path in message
    assert "unknown top-level key 'laod_from': did you mean 'load_from'?" \
        in message
    assert '--cfg-options load_from=VALUE' in message


def test_a_key_from_cfg_options_is_checked_too(tmp_path):
    cfg, _ = _from_text(tmp_path, 'work_dir = "w"\n')
    cfg.merge_from_dict({'work_dirs': 'elsewhere'})
    with pytest.raises(ConfigKeyError, match="'work_dirs': did you mean "
                       "'work_dir'"):
        check_config_keys(cfg)


def test_mmdet2_keys_name_their_mmengine_home(tmp_path):
    cfg, _ = _from_text(
        tmp_path, 'checkpoint_config = dict(interval=1)\n'
        "lr_config = dict(policy='step')\n")
    with pytest.raises(ConfigKeyError) as error:
        check_config_keys(cfg)
    message = str(error.value)
    assert ("'checkpoint_config' is an mmdet 2.x / mmcv 1.x key that "
            "mmengine's Runner never reads; the setting now lives in "
            'default_hooks.checkpoint.') in message
    assert "'lr_config'" in message and 'param_scheduler=[...]' in message


def test_helper_variables_are_fine_and_unused_ones_warned(tmp_path):
    cfg, _ = _from_text(
        tmp_path, 'max_iters = 10\n'
        'train_cfg = dict(max_iters=max_iters)\n'
        'img_scale = (64, 64)\n'
        'pipeline = [dict(scale=img_scale)]\n'
        'train_dataloader = dict(dataset=dict(pipeline=pipeline))\n'
        '_private = 1\n'
        "notes = 'nobody reads me'\n")
    warnings = check_config_keys(cfg)
    assert warnings == [
        "top-level key 'notes' is not a runner setting and nothing in the "
        'config uses it, so it has no effect. If \'notes\' is a variable of '
        'your own, use it elsewhere in the config or start its name with '
        '"_".'
    ]


def test_a_misspelt_key_used_elsewhere_is_a_helper_variable(tmp_path):
    # e.g. a base's 'val_cfgs' list read by the child: not a typo
    cfg, _ = _from_text(tmp_path, "resum = True\nresume = resum\n")
    assert check_config_keys(cfg) == []


def test_base_variables_read_by_a_child_are_used(tmp_path):
    (tmp_path / 'base.py').write_text('train_pipline = [1]\n')
    cfg, _ = _from_text(
        tmp_path, "_base_ = './base.py'\n"
        'train_dataloader = dict(pipeline={{_base_.train_pipline}})\n',
        name='child.py')
    assert check_config_keys(cfg) == []


def test_known_keys_are_the_runner_arguments_and_mmengine_extras():
    known = known_config_keys(Config(dict()))
    for key in ('model', 'load_from', 'resume', 'work_dir', 'env_cfg',
                'default_hooks', 'custom_hooks', 'randomness', 'launcher',
                'model_wrapper_cfg', 'find_unused_parameters', 'compile',
                'custom_imports', 'runner_type', 'default_scope'):
        assert key in known, key
    assert 'cfg' not in known
    assert closest('param_schedulers', known) == 'param_scheduler'
    assert closest('classes', known) is None


def test_checkpoint_hook_takes_mmengines_arguments_and_no_typo():
    ours = inspect.signature(CheckpointHook).parameters
    theirs = {
        name: p
        for name, p in inspect.signature(
            MMEngineCheckpointHook).parameters.items()
        if p.kind != p.VAR_KEYWORD
    }
    # mmengine's, in its order, then our rolling checkpoint's two
    rolling = ('rolling_interval', 'rolling_iters')
    assert list(ours) == list(theirs) + list(rolling)
    assert {n: p.default for n, p in ours.items() if n not in rolling} == {
        n: p.default for n, p in theirs.items()}
    with pytest.raises(TypeError, match='intervl'):
        CheckpointHook(intervl=5)
    assert CheckpointHook(interval=5).args == {}


def test_hook_argument_typos_are_named_with_the_closest_argument():
    cfg = Config(
        dict(
            default_scope='fcos_mm',
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', intervl=5),
                logger=dict(type='LoggerHook', interval=1, priority='BELOW')),
            custom_hooks=[dict(type='NonFiniteGuardHook', max_consecutiv=3)]))
    with pytest.raises(ConfigKeyError) as error:
        check_hook_arguments(cfg)
    message = str(error.value)
    assert ("default_hooks.checkpoint.intervl: CheckpointHook has no "
            "argument 'intervl'; did you mean 'interval'? Fix: rename it in "
            'the config, or on the command line --cfg-options '
            'default_hooks.checkpoint.interval=VALUE.') in message
    assert ("custom_hooks[0].max_consecutiv: NonFiniteGuardHook has no "
            "argument 'max_consecutiv'; did you mean 'max_consecutive'?"
            ) in message
    assert 'LoggerHook' not in message  # priority is the runner's


def test_hook_argument_far_from_any_lists_the_arguments():
    cfg = Config(
        dict(default_scope='fcos_mm',
             default_hooks=dict(
                 guard=dict(type='NonFiniteGuardHook', colour='red'))))
    with pytest.raises(ConfigKeyError, match="no argument 'colour'; its "
                       'arguments are enabled, interval, max_consecutive'):
        check_hook_arguments(cfg)


CONFIG_FILES = sorted(
    osp.relpath(p, CONFIGS)
    for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p)


def test_configs_found():
    assert len(CONFIG_FILES) >= 30


@pytest.mark.parametrize('name', CONFIG_FILES)
def test_every_config_passes_without_error_or_warning(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert check_config(cfg) == []


def test_a_shared_base_variable_unused_by_this_child_is_no_warning(
        tmp_path):
    (tmp_path / 'base.py').write_text('demo_head = dict(num_classes=1)\n')
    cfg, _ = _from_text(tmp_path, "_base_ = './base.py'\nown_head = 1\n",
                        name='child.py')
    warnings = check_config_keys(cfg)
    assert len(warnings) == 1 and "'own_head'" in warnings[0]


def test_none_of_our_hooks_takes_kwargs_a_typo_could_hide_in():
    import fcos_mm.engine.hooks as our_hooks
    from fcos_mm.engine.config_check import hook_arguments
    for name in our_hooks.__all__:
        assert hook_arguments(getattr(our_hooks, name)) is not None, name
