"""Config typos found before the runner starts, each named with the closest
known name and the fix.

mmengine's :class:`~mmengine.config.Config` accepts any key; a key is only
rejected where a class's ``__init__`` does not take it. Two kinds of typo
pass through that net silently:

- **top-level keys**: the Runner reads a fixed set of them
  (:func:`known_config_keys`) and ignores the rest, so ``laod_from='x.pth'``
  trains from scratch without a word;
- **arguments of a hook whose** ``__init__`` **takes** ``**kwargs``: the
  hook keeps them and fails much later, or never. Ours take none (our
  ``CheckpointHook`` names mmengine's arguments one by one), so a typo
  there is a ``TypeError``; this check names the closest argument first.

The rule for a top-level key that the runner does not read (a config
legitimately defines helper variables: ``classes``, ``data_root``,
``train_pipeline``, ``max_iters``, ...):

1. a key starting with ``_`` is the config's own and never checked;
2. a key that the config's files use elsewhere (a name not followed by
   ``=``: ``pipeline=train_pipeline``, ``{{_base_.img_scale}}``) is a
   helper variable: fine;
3. otherwise, a key that mmdet 2.x / mmcv 1.x read (``optimizer``,
   ``lr_config``, ``checkpoint_config``, ``evaluation``, ...) is an error
   that names its mmengine home;
4. otherwise, a key close to a known one (``difflib`` ratio >= 0.8:
   ``laod_from``, ``work_dirs``, ``param_schedulers``) is an error naming
   the known key;
5. otherwise, a key set in the config file itself or by ``--cfg-options``
   is read by nothing: one warning, no error (a user's own hook may read
   ``runner.cfg`` itself); one that only a base file sets is a shared
   base's variable for other children (``configs/fcos_rpn/_base_``): no
   word.

Every config in ``configs/`` passes without an error or a warning
(``tests/test_engine/test_config_check.py``). A key that a new component of
ours reads from the top level of the config goes into
:data:`EXTRA_RUNNER_KEYS`.
"""
import difflib
import inspect
import logging
import re
from typing import Iterable, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import Runner

# Read from ``runner.cfg`` or the config outside ``Runner.__init__``'s
# arguments: by mmengine's Runner (wrap_model, _maybe_compile, ...), by
# ``Config.fromfile`` (custom_imports), by our set-up (runner_type) and by
# mmdet's test-time augmentation (tta_*).
EXTRA_RUNNER_KEYS = frozenset({
    'runner_type', 'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn',
    'compile', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'strategy', 'custom_imports', 'tta_model', 'tta_pipeline'
})

# mmdet 2.x / mmcv 1.x top-level keys that mmengine's Runner ignores, and
# where the setting lives now.
LEGACY_KEYS = {
    'optimizer': 'optim_wrapper=dict(optimizer=dict(...))',
    'optimizer_config': 'optim_wrapper (grad_clip is now '
    'optim_wrapper.clip_grad)',
    'lr_config': 'param_scheduler=[...]',
    'runner': "train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=N) "
    "(or type='IterBasedTrainLoop', max_iters=N)",
    'total_epochs': 'train_cfg.max_epochs',
    'evaluation': 'train_cfg.val_interval and val_evaluator',
    'checkpoint_config': 'default_hooks.checkpoint',
    'log_config': 'default_hooks.logger (and visualizer.vis_backends)',
    'data': 'train_dataloader, val_dataloader and test_dataloader',
    'workflow': 'train_cfg and val_cfg',
    'dist_params': 'env_cfg.dist_cfg',
    'fp16': "optim_wrapper.type='AmpOptimWrapper' (or tools/train.py --amp)",
    'resume_from': 'resume=True with load_from=PATH (or tools/train.py '
    '--resume PATH)',
    'seed': 'randomness=dict(seed=N)',
    'cudnn_benchmark': 'env_cfg.cudnn_benchmark',
    'mp_start_method': 'env_cfg.mp_cfg.mp_start_method',
    'opencv_num_threads': 'env_cfg.mp_cfg.opencv_num_threads',
    'gpu_ids': 'nothing: the launcher picks the devices',
}

CLOSE_CUTOFF = 0.8


class ConfigKeyError(ValueError):
    """A config key or hook argument that nothing reads; ``str(error)``
    names each one, the closest known name and the fix."""


def closest(name: str, known: Iterable[str]) -> Optional[str]:
    """The known name closest to ``name`` (``difflib`` ratio >= 0.8), or
    None."""
    matches = difflib.get_close_matches(name, sorted(known), n=1,
                                        cutoff=CLOSE_CUTOFF)
    return matches[0] if matches else None


def known_config_keys(cfg: Config) -> frozenset:
    """The top-level keys that the config's runner reads: the arguments of
    mmengine's ``Runner.__init__`` and of ``runner_type``'s class, and
    :data:`EXTRA_RUNNER_KEYS`."""
    runner_cls = Runner
    runner_type = cfg.get('runner_type')
    if isinstance(runner_type, str):
        with RUNNERS.switch_scope_and_registry(
                cfg.get('default_scope')) as registry:
            runner_cls = registry.get(runner_type) or Runner
    elif inspect.isclass(runner_type):
        runner_cls = runner_type
    names = {
        name
        for cls in {Runner, runner_cls}
        for name, param in inspect.signature(cls).parameters.items()
        if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    }
    return frozenset((names - {'cfg'}) | EXTRA_RUNNER_KEYS)


def _referenced(name: str, text: str) -> bool:
    """Whether ``text`` uses ``name`` other than by assigning it (or passing
    a keyword of that name)."""
    return re.search(rf'(?<![\w]){re.escape(name)}\b(?!\s*=(?!=))',
                     text) is not None


def _set_by_user(cfg: Config, key: str) -> bool:
    """Whether ``key`` is assigned in the config file itself (not only in
    a base) or, absent from it, comes from ``--cfg-options``."""
    if not cfg.filename or not str(cfg.filename).endswith('.py'):
        return True
    with open(cfg.filename, encoding='utf-8') as f:
        own = f.read()
    if re.search(rf'(?m)^{re.escape(key)}\s*=', own):
        return True
    return re.search(rf'(?m)^{re.escape(key)}\s*=', cfg.text) is None


def _source(cfg: Config) -> str:
    return f' ({cfg.filename})' if cfg.filename else ''


def _unknown_key_problem(cfg: Config, key: str,
                         known: frozenset) -> Tuple[Optional[str], bool]:
    """``(message, is_error)`` for a top-level key, or ``(None, False)``
    when it is fine (see the module docstring for the rule)."""
    if key in known or key.startswith('_') or _referenced(key, cfg.text):
        return None, False
    fix_helper = (f'If {key!r} is a variable of your own, use it elsewhere '
                  f'in the config or start its name with "_".')
    if key in LEGACY_KEYS:
        return (f'{key!r} is an mmdet 2.x / mmcv 1.x key that mmengine\'s '
                f'Runner never reads; the setting now lives in '
                f'{LEGACY_KEYS[key]}. {fix_helper}'), True
    near = closest(key, known)
    if near is not None:
        return (f'unknown top-level key {key!r}: did you mean {near!r}? The '
                f'runner ignores {key!r}. Fix: rename it to {near!r} in the '
                f'config, or on the command line --cfg-options '
                f'{near}=VALUE. {fix_helper}'), True
    if not _set_by_user(cfg, key):
        return None, False  # a shared base's variable, for other children
    return (f'top-level key {key!r} is not a runner setting and nothing in '
            f'the config uses it, so it has no effect. {fix_helper}'), False


def check_config_keys(cfg: Config) -> List[str]:
    """Check the config's top-level keys (module docstring: the rule).

    Args:
        cfg (Config): The config, ``--cfg-options`` merged.

    Returns:
        list[str]: The warnings logged (keys that nothing reads, not close
        to a known one).

    Raises:
        ConfigKeyError: A key that is an mmdet 2.x key or close to a known
            one and used nowhere else; all of them, in one message.
    """
    known = known_config_keys(cfg)
    errors, warnings = [], []
    for key in cfg.keys():
        message, is_error = _unknown_key_problem(cfg, key, known)
        if message is not None:
            (errors if is_error else warnings).append(message)
    for message in warnings:
        print_log(f'Config{_source(cfg)}: {message}', 'current',
                  level=logging.WARNING)
    if errors:
        raise ConfigKeyError(f'Config{_source(cfg)}:\n  ' +
                             '\n  '.join(errors))
    return warnings


def _hook_configs(cfg: Config) -> List[Tuple[str, dict]]:
    """``(where, hook config)`` of every default and custom hook."""
    found = []
    default_hooks = cfg.get('default_hooks') or {}
    if isinstance(default_hooks, dict):
        found += [(f'default_hooks.{name}', hook)
                  for name, hook in default_hooks.items()]
    custom_hooks = cfg.get('custom_hooks') or []
    if isinstance(custom_hooks, (list, tuple)):
        found += [(f'custom_hooks[{index}]', hook)
                  for index, hook in enumerate(custom_hooks)]
    return [(where, hook) for where, hook in found
            if isinstance(hook, dict) and 'type' in hook]


def hook_arguments(hook_cls: type) -> Optional[List[str]]:
    """The keyword arguments a hook class takes (and ``priority``, which the
    runner takes from its config), or None where its ``__init__`` takes
    ``**kwargs`` and any name may be right."""
    params = inspect.signature(hook_cls).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return [
        name for name, p in params.items() if p.kind != p.VAR_POSITIONAL
    ] + ['priority']


def check_hook_arguments(cfg: Config) -> None:
    """Check each hook config's keys against its class's arguments.

    Hooks whose class is not found (the runner's own error says so) or
    takes ``**kwargs`` are left alone.

    Args:
        cfg (Config): The config, ``--cfg-options`` merged.

    Raises:
        ConfigKeyError: Unknown arguments, each named with its hook
            (``default_hooks.checkpoint.intervl``), the closest argument
            and the fix, all in one message.
    """
    problems: List[str] = []
    # the registry the runner builds hooks from: the config's scope first
    with HOOKS.switch_scope_and_registry(
            cfg.get('default_scope')) as registry:
        for where, hook in _hook_configs(cfg):
            hook_type = hook['type']
            hook_cls = registry.get(hook_type) if isinstance(
                hook_type, str) else hook_type
            if not inspect.isclass(hook_cls):
                continue
            arguments = hook_arguments(hook_cls)
            if arguments is None:
                continue
            for key in hook:
                # type, and _scope_ that mmengine adds to an mmdet:: base's
                if key == 'type' or key in arguments or key.startswith('_'):
                    continue
                near = closest(key, arguments)
                hint = (f'did you mean {near!r}? Fix: rename it in the '
                        f'config, or on the command line --cfg-options '
                        f'{where}.{near}=VALUE.' if near else
                        f'its arguments are {", ".join(arguments)}.')
                problems.append(f'{where}.{key}: {hook_cls.__name__} has no '
                                f'argument {key!r}; {hint}')
    if problems:
        raise ConfigKeyError(f'Config{_source(cfg)}:\n  ' +
                             '\n  '.join(problems))


def check_config(cfg: Config) -> List[str]:
    """:func:`check_config_keys`, then :func:`check_hook_arguments`; the
    warnings logged."""
    warnings = check_config_keys(cfg)
    check_hook_arguments(cfg)
    return warnings


__all__ = [
    'ConfigKeyError', 'EXTRA_RUNNER_KEYS', 'LEGACY_KEYS', 'check_config',
    'check_config_keys', 'check_hook_arguments', 'closest',
    'hook_arguments', 'known_config_keys'
]
