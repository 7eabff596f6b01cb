"""Turn the command-line options of tools/train.py and tools/test.py into
config changes, so the tools stay a few lines and the logic is tested here
(the options all tools share, and the config's loading, are in
:mod:`fcos_mm.utils.tool_args`).
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.utils.dl_utils import collect_env

from fcos_mm.registry import SCOPE
from fcos_mm.utils.dist import cpu_model_wrapper_cfg, init_dist_env

from .config_check import check_config
from .optim_wrappers import AutocastOptimWrapper
from .resume import auto_resume_reason


class _Runner(Runner):
    """mmengine's :class:`Runner`, whose log header says what runs: the
    process count (mmengine labels it "GPU number" on any device) and,
    through ``env_cfg`` (:func:`prepare_launch`), the real backend."""

    def _log_env(self, env_cfg: dict) -> None:
        runtime_env = OrderedDict(env_cfg)
        runtime_env.update(self._randomness_cfg)
        runtime_env['seed'] = self._seed
        runtime_env['Distributed launcher'] = self._launcher
        runtime_env['Distributed training'] = self._distributed
        if torch.cuda.is_available():
            runtime_env['GPU number'] = self._world_size
        else:
            runtime_env['Processes (CPU only)'] = self._world_size
        lines = lambda items: '\n    ' + '\n    '.join(  # noqa: E731
            f'{k}: {v}' for k, v in items)
        dash_line = '-' * 60
        self.logger.info('\n' + dash_line + '\nSystem environment:' +
                         lines(collect_env().items()) + '\n'
                         '\nRuntime environment:' +
                         lines(runtime_env.items()) + '\n' + dash_line +
                         '\n')
        if self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')


def build_runner(cfg: Config, launcher: str) -> Runner:
    """:func:`~fcos_mm.engine.config_check.check_config` (typos in
    top-level keys and hook arguments), :func:`prepare_launch`, then the
    config's runner (``runner_type``, else mmengine's :class:`Runner`,
    whose log header names the process count and the backend)."""
    check_config(cfg)
    prepare_launch(cfg, launcher)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return _Runner.from_cfg(cfg)


def _set_scope_and_work_dir(cfg: Config, work_dir: Optional[str],
                            config_path: Optional[str]) -> None:
    cfg.setdefault('default_scope', SCOPE)
    # Command line > config > ./work_dirs/<config name>.
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(config_path or 'fcos_mm'))[0]
        cfg.work_dir = osp.join('./work_dirs', name)


def check_before_first_step(cfg: Config, tool: str) -> None:
    """The checks ``tool`` (``'train'`` or ``'test'``) runs before anything
    is built: the classes and counts of the data sets it uses against their
    annotation files and the head
    (:func:`~fcos_mm.datasets.class_check.check_before_first_step`,
    ``DataCheckError`` on a problem), and hooks added unless the config has
    them, even when it replaces ``custom_hooks``: ``CheckpointClassesHook``
    (the loaded checkpoint's class count: an error for ``'test'``,
    re-initialised layers said in one log line for ``'train'`` with
    ``load_from``) and, for ``'test'``, ``CheckImagesHook`` (every test image
    on disk before the loader starts; training runs it where the config
    lists it, as ``configs/_base_/default_runtime.py`` does).

    Args:
        cfg (Config): After :func:`setup_train_cfg` / :func:`setup_test_cfg`;
            ``custom_hooks`` is changed in place.
        tool (str): ``'train'`` (the train loader, and the val loader when
            validation runs) or ``'test'`` (the test loader).
    """
    from fcos_mm.datasets.class_check import (
        check_before_first_step as check_classes,
    )
    if tool == 'train':
        splits = ['train']
        if all(cfg.get(key) for key in ('val_dataloader', 'val_cfg',
                                        'val_evaluator')):
            splits.append('val')
    else:
        splits = ['test']
    check_classes(cfg, splits)
    hooks = list(cfg.get('custom_hooks') or [])
    types = {hook.get('type') for hook in hooks if isinstance(hook, dict)}
    on_mismatch = 'reinit' if tool == 'train' else 'raise'
    added = [dict(type='CheckpointClassesHook', on_mismatch=on_mismatch)]
    if tool == 'test':
        added.append(dict(type='CheckImagesHook'))
    for hook in added:
        if hook['type'] not in types:
            hooks.append(hook)
    cfg.custom_hooks = hooks


def enable_amp(cfg: Config) -> str:
    """Switch the optimizer wrapper to mixed precision for this machine.

    With CUDA: mmengine's ``AmpOptimWrapper``, float16 with a dynamic loss
    scale. Without: our :class:`AutocastOptimWrapper`, CPU autocast to
    bfloat16 (no loss scale needed). A config that already asks for a mixed
    precision wrapper is left as it is.

    Args:
        cfg (Config): The config; ``cfg.optim_wrapper`` is changed in place.

    Returns:
        str: The wrapper type now in the config.
    """
    wrapper = cfg.optim_wrapper
    current = wrapper.get('type', 'OptimWrapper')
    if current in ('AmpOptimWrapper', AutocastOptimWrapper.__name__):
        print_log(f'Mixed precision is already on ({current}).', 'current')
        return current
    if current != 'OptimWrapper':
        raise ValueError(f'--amp replaces optim_wrapper.type OptimWrapper, '
                         f'but the config has {current!r}; set a mixed '
                         f'precision wrapper in the config instead.')
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    else:
        wrapper.type = AutocastOptimWrapper.__name__
        wrapper.dtype = 'bfloat16'
    return wrapper.type


def enable_async_copies(cfg: Config) -> None:
    """Copy each training batch to the device without waiting for it.

    A blocking host-to-device copy (mmengine's default ``non_blocking=False``)
    synchronises the stream: the host waits for the previous step to finish
    before it can queue the next. The data preprocessor gets
    ``non_blocking=True`` (a no-op on CPU) and, with CUDA, the training
    dataloader ``pin_memory=True``, so the copy is a DMA that overlaps the
    step; a config that sets either keeps its value.

    Args:
        cfg (Config): The config, changed in place.
    """
    preprocessor = cfg.get('model', {}).get('data_preprocessor')
    if isinstance(preprocessor, dict):
        preprocessor.setdefault('non_blocking', True)
    loader = cfg.get('train_dataloader')
    if isinstance(loader, dict) and torch.cuda.is_available():
        loader.setdefault('pin_memory', True)


def prepare_launch(cfg: Config, launcher: str) -> Optional[str]:
    """Start the process group for ``launcher`` before the Runner would,
    so that a CPU-only machine gets gloo and a DDP wrapper without
    ``device_ids`` (see :mod:`fcos_mm.utils.dist`).

    Args:
        cfg (Config): The config; ``launcher`` and, on CPU,
            ``model_wrapper_cfg`` are set in place.
        launcher (str): One of :data:`~fcos_mm.utils.dist.LAUNCHERS`.

    Returns:
        str or None: The process group's backend, None without a launcher.
    """
    cfg.launcher = launcher
    if launcher == 'none':
        return None
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = init_dist_env(launcher, **dist_cfg)
    # the Runner logs env_cfg as the run's settings: the real backend
    # (gloo without CUDA), not the config's nccl
    cfg.env_cfg = dict(cfg.get('env_cfg') or {})
    cfg.env_cfg['dist_cfg'] = dict(dist_cfg, backend=backend)
    if not torch.cuda.is_available() and cfg.get(
            'model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = cpu_model_wrapper_cfg(
            cfg.get('find_unused_parameters', False))
    return backend


def setup_train_cfg(cfg: Config,
                    config_path: Optional[str] = None,
                    work_dir: Optional[str] = None,
                    amp: bool = False,
                    resume: Optional[str] = None,
                    auto_scale_lr: bool = False,
                    dump_bad_batches: bool = False,
                    compile_loss: bool = False,
                    cuda_graphs: bool = False) -> Config:
    """Apply tools/train.py's options to ``cfg`` (changed in place).

    Args:
        cfg (Config): The loaded config (``--cfg-options`` already merged).
        config_path (str, optional): The config file, naming the default
            work dir.
        work_dir (str, optional): ``--work-dir``.
        amp (bool): ``--amp``: see :func:`enable_amp`.
        resume (str, optional): ``--resume``: ``'auto'`` for the latest
            checkpoint in the work dir (if any), or a checkpoint path.
            Without it, a process that torchrun restarted or Slurm requeued
            resumes as with ``'auto'`` (:func:`~fcos_mm.engine.resume.
            auto_resume_reason`).
        auto_scale_lr (bool): ``--auto-scale-lr``: scale the lr by the real
            total batch size over ``auto_scale_lr.base_batch_size``, which
            the config must set.
        dump_bad_batches (bool): ``--dump-bad-batches``: the
            ``NonFiniteGuardHook`` saves the batch of each skipped step.
        compile_loss (bool): ``--compile``: the detector's forward and loss
            compiled whole (``model.compile_loss``, see
            :class:`~fcos_mm.models.detectors.FCOS`), unless the config
            already sets it.
        cuda_graphs (bool): ``--cuda-graphs``: also ``model.cuda_graphs``
            (implies ``--compile``).

    Returns:
        Config: ``cfg``.
    """
    _set_scope_and_work_dir(cfg, work_dir, config_path)
    enable_async_copies(cfg)
    if amp:
        enable_amp(cfg)
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError(
                '--auto-scale-lr needs auto_scale_lr = dict(base_batch_size='
                'N) in the config: the total batch size its lr is set for.')
        cfg.auto_scale_lr.enable = True
    if compile_loss or cuda_graphs:
        if not cfg.model.get('compile_loss'):
            cfg.model.compile_loss = True
        cfg.model.cuda_graphs = cfg.model.get('cuda_graphs') or cuda_graphs
    restarted = auto_resume_reason()
    if resume is None and restarted and not cfg.get('resume'):
        print_log(f'{restarted}: resuming from the newest valid checkpoint '
                  f'in {cfg.work_dir}, as with --resume.', 'current')
        resume = 'auto'
    if resume is not None:
        cfg.resume = True
        cfg.load_from = None if resume == 'auto' else resume
    if dump_bad_batches:
        guard = cfg.get('default_hooks', {}).get('nonfinite_guard')
        if not guard or not guard.get('enabled', True):
            raise RuntimeError(
                '--dump-bad-batches needs the non-finite step guard: '
                "default_hooks.nonfinite_guard=dict(type='NonFiniteGuardHook')"
                ' (configs/_base_/default_runtime.py has it).')
        guard.dump_bad_batches = True
    return cfg


def setup_test_cfg(cfg: Config,
                   checkpoint: str,
                   config_path: Optional[str] = None,
                   work_dir: Optional[str] = None,
                   show_dir: Optional[str] = None,
                   amp: bool = False,
                   precision: str = 'auto',
                   compile: bool = False) -> Config:
    """Apply tools/test.py's options to ``cfg`` (changed in place).

    Args:
        cfg (Config): The loaded config (``--cfg-options`` already merged).
        checkpoint (str): The weights to test, or an ``.onnx`` / OpenVINO
            ``model.xml`` file from ``tools/deployment/export.py``, which
            replaces the model by an
            :class:`~fcos_mm.deployment.ONNXRuntimeDetector` /
            :class:`~fcos_mm.deployment.OpenVINODetector` with the config's
            data preprocessor.
        config_path (str, optional): The config file, naming the default
            work dir.
        work_dir (str, optional): ``--work-dir``.
        show_dir (str, optional): ``--show-dir``: where the visualization
            hook draws the predictions, inside the run's log folder.
        amp (bool): ``--amp``: a :class:`CPUInferenceHook` on CPU, the test
            loop's fp16 autocast with CUDA; ignored for exported models,
            with a warning.
        precision (str): ``--precision`` of an OpenVINO model (``auto``,
            ``f32``, ``bf16``).
        compile (bool): ``--compile``: the :class:`CPUInferenceHook`
            compiles backbone, neck and head (CPU, PyTorch models).

    Returns:
        Config: ``cfg``.
    """
    _set_scope_and_work_dir(cfg, work_dir, config_path)
    from fcos_mm.deployment.exported_detector import (
        EXPORTED_SUFFIXES,
        exported_model_cfg,
    )
    is_exported = str(checkpoint).endswith(EXPORTED_SUFFIXES)
    if is_exported:
        cfg.model = exported_model_cfg(cfg, str(checkpoint), precision)
        cfg.load_from = None
    else:
        cfg.load_from = checkpoint
    if (amp or compile) and is_exported:
        print_log('--amp / --compile are ignored for an exported model (its '
                  'runtime runs it as exported; OpenVINO: see --precision)',
                  'current', level=logging.WARNING)
    elif amp and torch.cuda.is_available():
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    elif amp or compile:
        hook = dict(type='CPUInferenceHook', amp=bool(amp))
        if compile:
            hook['compile'] = True
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [hook]
    if show_dir is not None:
        hooks = cfg.get('default_hooks', {})
        if 'visualization' not in hooks:
            raise RuntimeError(
                '--show-dir needs a visualization hook in default_hooks, '
                "e.g. visualization=dict(type='DetVisualizationHook').")
        hooks.visualization.draw = True
        hooks.visualization.test_out_dir = show_dir
    return cfg
