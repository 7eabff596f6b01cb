"""Every GPU goal of the training step, measured by one command.

``tools/misc/gpu_check.sh`` runs the CUDA-only tests, then :func:`gpu_check`
prints one table: a training step (forward, loss, backward, optimizer
wrapper step, as ``model.train_step`` does after the data preprocessor) of
the R50 FCOS_imprv config on a random batch, per variant

======================================  =================================
mmdet eager                             the baseline (mmengine's wrapper)
ours eager, guard off                   (the guard's cost: on / off <= 1.02)
ours eager (guard on, as trained)       goal <= 0.9x mmdet eager
ours --compile                          goal <= 0.5x mmdet eager
ours --compile --cuda-graphs            (fp32)
ours --compile --cuda-graphs bf16       goal <= 0.25x mmdet eager
======================================  =================================

with the median step time, its ratio to mmdet eager, the host syncs of one
step (``aten::_local_scalar_dense`` + ``aten::nonzero`` under
torch.profiler; on CUDA also the syncs ``torch.cuda.set_sync_debug_mode``
reports) and the peak memory of a step; then images/s of a short real
``runner.train()`` of the same config on generated images, with the host
reads per non-logging iteration (:class:`HostReadProbe`; the loop's budget
is 0).

``--device cpu --dry-run`` prints the same table at tiny sizes (a small
ResNet, 2 x 128x160, a few steps, the ``aot_eager`` compile backend) in a
minute; the suite runs it so that the command cannot rot before a GPU is
lent. The timing loop, the clock, the batch and the op counts are the
training benchmark's (:mod:`fcos_mm.analysis.train_benchmark`,
:mod:`fcos_mm.analysis.side_by_side`).
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
import warnings
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.hooks import Hook

from fcos_mm.models.detectors.fcos import compile_options
from fcos_mm.models.utils import prepare_ground_truth

from .harness import (
    count_ops,
    cpu_name,
    peak_memory,
    random_batch,
    synced_clock,
    synchronize,
    timed_call,
    timed_turns,
)
from .host_reads import HostReadProbe, logging_iterations
from .mmdet_twin import build_pair

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
#: The config whose step the GPU goals are about (mmdet's file name).
R50_IMPRV_CONFIG = osp.join(
    REPO, 'configs', 'fcos',
    'fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py')

#: The rows: (name, side, compiled, cuda_graphs, bf16, guard, goal: the
#: most step time as a ratio to mmdet eager, fp32, at batch 2).
VARIANTS = (
    ('mmdet eager', 'mmdet', False, False, False, False, None),
    ('ours eager, guard off', 'ours', False, False, False, False, None),
    ('ours eager', 'ours', False, False, False, True, 0.9),
    ('ours --compile', 'ours', True, False, False, True, 0.5),
    ('ours --compile --cuda-graphs', 'ours', True, True, False, True, None),
    ('ours --compile --cuda-graphs bf16', 'ours', True, True, True, True,
     0.25),
)
#: The guard's goal: ``ours eager`` over ``ours eager, guard off``.
GUARD_GOAL = 1.02
GUARD_BASELINE = 'ours eager, guard off'

def cuda_syncs(fn, device: torch.device) -> Optional[int]:
    """Synchronisations CUDA reports in one call of ``fn``
    (``set_sync_debug_mode('warn')``); None off CUDA."""
    if device.type != 'cuda':
        return None
    synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return sum('synchronizing' in str(w.message) for w in caught)


def _wrapper(model, device: torch.device, side: str, bf16: bool,
             guard: bool):
    from mmengine.optim import OptimWrapper as MMEngineOptimWrapper

    from fcos_mm.engine.optim_wrappers import (
        AutocastOptimWrapper,
        OptimWrapper,
    )
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-4, momentum=0.9, weight_decay=1e-4)
    if side == 'mmdet':
        return MMEngineOptimWrapper(optimizer=optimizer)
    if bf16:
        wrapper = AutocastOptimWrapper(
            optimizer=optimizer, dtype='bfloat16', device_type=device.type)
    else:
        wrapper = OptimWrapper(optimizer=optimizer)
    wrapper.enable_step_guard(guard)
    return wrapper


def _train_step(model, wrapper, inputs, samples):
    """``model.train_step`` after the data preprocessor."""

    def step():
        with wrapper.optim_context(model):
            losses = model(inputs, samples, mode='loss')
        loss, log_vars = model.parse_losses(losses)
        wrapper.update_params(loss)
        return log_vars

    return step


def benchmark_variants(model_cfg: dict,
                       device: str = 'cuda',
                       num_gts: int = 30,
                       shape: Tuple[int, int] = (800, 1216),
                       num_imgs: int = 2,
                       num_iters: int = 10,
                       num_warmup: int = 3,
                       compile_kwargs: Optional[dict] = None,
                       variants=VARIANTS,
                       seed: int = 0) -> Dict[str, dict]:
    """Each of ``variants``' training step on one random batch, timed in
    turns: ``step_ms`` (median), ``syncs`` (profiler, one step after the
    warm-up), ``cuda_syncs``, ``peak_mib`` and, compiled, ``compile_s`` (the
    first step)."""
    device = torch.device(device)
    mm_model, ours = build_pair(model_cfg, str(device))
    num_classes = model_cfg['bbox_head']['num_classes']
    inputs, samples = random_batch(num_imgs, shape, num_gts, num_classes,
                                   str(device), seed)
    steps, results = {}, {}
    for name, side, compiled, graphs, bf16, guard, _ in variants:
        model = mm_model if side == 'mmdet' else copy.deepcopy(ours)
        batch = copy.deepcopy(samples)
        if side == 'ours':
            # as training prepares it: checked on the host, padded to its
            # bucket when compiled
            prepare_ground_truth(batch, num_classes, pad_to_bucket=compiled)
        if compiled:
            model.compile_loss = dict(
                compile_options(True, graphs), **(compile_kwargs or {}))
        step = _train_step(model, _wrapper(model, device, side, bf16, guard),
                           inputs, batch)
        clock = synced_clock(device)
        start = clock()
        try:
            step()  # compiles; creates the optimizer state
        except Exception as error:  # one failed row must not cost the rest
            results[name] = dict(error=_first_line(error))
            continue
        results[name] = dict(compile_s=clock() - start) if compiled else {}
        steps[name] = step
    times = timed_turns(steps, num_warmup, num_iters, synced_clock(device))
    for name, step in steps.items():
        results[name].update(
            step_ms=1000 * statistics.median(times[name]),
            syncs=count_ops(step)['syncs'],
            cuda_syncs=cuda_syncs(step, device),
            peak_mib=peak_memory(step, device) / 2**20)
    return results


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f'{type(error).__name__}: {text[0] if text else ""}'[:200]


def runner_cfg(cfg: Config, data_root: str, work_dir: str,
               shape: Tuple[int, int], num_imgs: int, max_iters: int,
               log_interval: int) -> Config:
    """``cfg`` trained for ``max_iters`` on the generated shapes of
    ``data_root``, each image resized to ``shape``, no validation, no
    checkpoint, the pretrained backbone dropped; on the Runner's device
    (CUDA when there is one)."""
    from fcos_mm.datasets.synthetic import annotation_file
    from fcos_mm.engine.runner_setup import setup_train_cfg
    cfg = copy.deepcopy(cfg)
    height, width = shape
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(width, height), keep_ratio=False),
        dict(type='PackDetInputs')
    ]
    cfg.model.backbone.init_cfg = None
    cfg.model.bbox_head.num_classes = 3
    cfg.train_dataloader = dict(
        batch_size=num_imgs,
        num_workers=2,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='CocoDataset',
            data_root=data_root,
            metainfo=dict(classes=('ellipse', 'rectangle', 'triangle')),
            ann_file=annotation_file(data_root, 'train'),
            data_prefix=dict(img=osp.join(data_root, 'train/')),
            filter_cfg=dict(filter_empty_gt=True),
            pipeline=pipeline))
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.param_scheduler = []
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=log_interval)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters + 1,
        save_last=False)
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.custom_hooks = []
    cfg.log_processor = dict(type='LogProcessor', window_size=log_interval,
                             by_epoch=False)
    cfg.randomness = dict(seed=0)
    return setup_train_cfg(cfg, work_dir=work_dir)


def runner_train(cfg: Config, data_root: str, shape: Tuple[int, int],
                 num_imgs: int, max_iters: int = 30, log_interval: int = 10,
                 num_warmup: int = 5, device: str = 'cuda') -> dict:
    """Images/s of a short real ``runner.train()`` (after ``num_warmup``
    iterations) and the host reads per non-logging iteration
    (:class:`HostReadProbe`)."""
    from mmengine.runner import Runner

    from fcos_mm.datasets.synthetic import generate_synthetic_coco
    # more batches than the logging interval: LoggerHook also logs at the
    # end of a data loader shorter than it
    generate_synthetic_coco(
        data_root, num_train=num_imgs * (log_interval + 2), num_val=1)
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = runner_cfg(cfg, data_root, work_dir, shape, num_imgs,
                         max_iters, log_interval)
        runner = Runner.from_cfg(cfg)
        clock = synced_clock(torch.device(device))
        marks = {}

        def mark(runner):
            if runner.iter == num_warmup:
                marks['start'] = clock()  # the one sync of the loop, here

        runner.register_hook(_Callback(mark), priority='LOWEST')
        with HostReadProbe(runner,
                            cuda=torch.device(device).type == 'cuda') as probe:
            runner.train()
        seconds = clock() - marks['start']
    # allowed: the first step, which creates the optimizer state (the guard
    # reads its flag once then), the end of the data loader's first pass,
    # an epoch's end (NonFiniteGuardHook reads its records there), and the
    # clock's own synchronisation
    skip = logging_iterations(max_iters, log_interval) + (
        0, log_interval + 1, num_warmup)
    reads = probe.per_iteration(skip=skip)
    syncs = probe.per_iteration(skip=skip, counts=probe.cuda_syncs)
    return dict(
        images_per_s=num_imgs * (max_iters - num_warmup) / seconds,
        reads_per_iter=sum(reads) / max(len(reads), 1),
        max_reads=max(reads, default=0),
        cuda_syncs_per_iter=(sum(syncs) / max(len(syncs), 1)
                             if probe.cuda else None),
        read_sites=dict(probe.sites),
        max_iters=max_iters)


class _Callback(Hook):
    """A hook calling ``fn(runner)`` before each training iteration."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.fn(runner)


def dry_run_model_cfg(model_cfg: dict) -> ConfigDict:
    """The config's FCOS shrunk for a CPU dry run: ResNet-18 with 8 base
    channels, an 8-channel FPN and head (the head's options kept)."""
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.backbone.pop('frozen_stages', None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    cfg.bbox_head.update(
        in_channels=8,
        feat_channels=8,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    return cfg


def gpu_check(config: str = R50_IMPRV_CONFIG,
              device: str = 'cuda',
              dry_run: bool = False,
              shape: Tuple[int, int] = (800, 1216),
              num_imgs: int = 2,
              num_gts: int = 30,
              num_iters: int = 10,
              num_warmup: int = 3,
              train_iters: int = 30,
              backend: Optional[str] = None,
              data_root: Optional[str] = None) -> dict:
    """Everything :func:`format_gpu_check` prints (see the module's
    docstring). ``dry_run``: tiny model and sizes, few steps, the
    ``aot_eager`` backend unless ``backend`` is given."""
    from fcos_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    if dry_run:
        cfg.model = dry_run_model_cfg(cfg.model)
        # P6 at least 2x2, as the stride-2 P7 conv needs under CPU
        # autocast (AutocastOptimWrapper runs a narrower one in float32,
        # a hook Dynamo cannot trace whole)
        shape, num_imgs, num_gts = (128, 160), 2, 5
        num_iters, num_warmup, train_iters = 2, 1, 8
        backend = backend or 'aot_eager'
    compile_kwargs = dict(backend=backend) if backend else None
    steps = benchmark_variants(cfg.model, device, num_gts, shape, num_imgs,
                               num_iters, num_warmup, compile_kwargs)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            train = runner_train(
                cfg, data_root or osp.join(scratch, 'synthetic'), shape,
                num_imgs, max_iters=train_iters, log_interval=3 if dry_run
                else 10, num_warmup=2 if dry_run else 5, device=device)
        except Exception as error:
            train = dict(error=_first_line(error))
    dev = torch.device(device)
    return dict(
        steps=steps,
        train=train,
        setting=dict(
            config=osp.relpath(config, REPO) if config.startswith(REPO)
            else config,
            device=device,
            device_name=(torch.cuda.get_device_name(dev)
                         if dev.type == 'cuda' else cpu_name()),
            torch=torch.__version__,
            shape=tuple(shape),
            num_imgs=num_imgs,
            num_gts=num_gts,
            num_iters=num_iters,
            backend=backend or 'inductor',
            dry_run=dry_run))


def format_gpu_check(results: dict) -> str:
    """One table of a :func:`gpu_check` result."""
    setting, steps = results['setting'], results['steps']
    height, width = setting['shape']
    lines = [
        'gpu_check' + (' (DRY RUN: tiny model and sizes)'
                       if setting['dry_run'] else ''),
        f'{setting["config"]}: train step of {setting["num_imgs"]} x '
        f'{height}x{width}, {setting["num_gts"]} boxes each, median of '
        f'{setting["num_iters"]} steps in turns, on {setting["device"]} '
        f'({setting["device_name"]}), torch {setting["torch"]}, compile '
        f'backend {setting["backend"]}',
        f'{"variant":<36}{"step ms":>9}{"x mmdet":>9}{"goal":>7}'
        f'{"syncs":>7}{"cuda":>6}{"peak MiB":>10}{"compile s":>11}'
    ]
    base = steps['mmdet eager'].get('step_ms', float('nan'))
    for name, _, _, _, _, _, goal in VARIANTS:
        row = steps.get(name)
        if row is None:
            continue
        if 'error' in row:
            lines.append(f'{name:<36}FAILED: {row["error"]}')
            continue
        ratio = row['step_ms'] / base
        goal_text = f'{goal:.2f}' if goal else '-'
        met = '' if goal is None else (' ok' if ratio <= goal else ' MISS')
        cuda = '-' if row['cuda_syncs'] is None else str(row['cuda_syncs'])
        compile_s = (f'{row["compile_s"]:.1f}' if 'compile_s' in row else
                     '-')
        lines.append(f'{name:<36}{row["step_ms"]:>9.1f}{ratio:>9.3f}'
                     f'{goal_text:>7}{row["syncs"]:>7d}{cuda:>6}'
                     f'{row["peak_mib"]:>10.1f}{compile_s:>11}{met}')
    if all('step_ms' in steps.get(name, {})
           for name in ('ours eager', GUARD_BASELINE)):
        guard = steps['ours eager']['step_ms'] / steps[GUARD_BASELINE][
            'step_ms']
        lines.append(f'guard on / off (ours eager): {guard:.3f}, goal <= '
                     f'{GUARD_GOAL}' +
                     (' ok' if guard <= GUARD_GOAL else ' MISS'))
    train = results['train']
    if 'error' in train:
        lines.append(f'runner.train() FAILED: {train["error"]}')
        return '\n'.join(lines)
    lines += [
        '(syncs: aten::_local_scalar_dense + nonzero in one step; cuda: the '
        'syncs set_sync_debug_mode reports in one step)',
        f'runner.train(), {train["max_iters"]} iterations, ours eager, guard '
        f'on: {train["images_per_s"]:.2f} images/s; host reads per '
        f'non-logging iteration: {train["reads_per_iter"]:.2f} (most '
        f'{train["max_reads"]}; budget 0)' + (
            '' if train['cuda_syncs_per_iter'] is None else
            f'; CUDA syncs per non-logging iteration, data preprocessor '
            f'included: {train["cuda_syncs_per_iter"]:.2f}')
    ]
    for site, count in sorted(train['read_sites'].items(),
                              key=lambda item: -item[1])[:5]:
        lines.append(f'  read at {site}: {count}')
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='The GPU goals of the training step in one table.')
    parser.add_argument('--config', default=R50_IMPRV_CONFIG)
    parser.add_argument('--device', default='cuda')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='tiny model and sizes, few steps (checks the command itself)')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216],
                        metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--gts', type=int, default=30)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--train-iters', type=int, default=30)
    parser.add_argument(
        '--backend', default=None, help='torch.compile backend '
        '(default inductor; aot_eager in a dry run)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    results, seconds = timed_call(lambda: gpu_check(
        config=args.config,
        device=args.device,
        dry_run=args.dry_run,
        shape=tuple(args.shape),
        num_imgs=args.batch,
        num_gts=args.gts,
        num_iters=args.iters,
        train_iters=args.train_iters,
        backend=args.backend))
    print(format_gpu_check(results))
    print(f'(measured in {seconds:.0f} s)')


if __name__ == '__main__':
    main()
