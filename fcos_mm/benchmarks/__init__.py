"""Benchmarks: one timing harness, one mmdet twin, one module per tool.

Each module is named after its tool in ``tools/analysis_tools/``:
:mod:`.benchmark` (inference speed per stage, onnxruntime, mmdet's twin),
:mod:`.benchmark_train` (a training step, ours against mmdet's),
:mod:`.benchmark_guard` (the non-finite step guard's cost),
:mod:`.benchmark_eval` (COCO evaluation backends, the report),
:mod:`.benchmark_assigner` (target assignment, ours against mmdet's),
:mod:`.get_flops` (parameters and FLOPs), :mod:`.gpu_check` (the one GPU
command, ``tools/misc/gpu_check.sh``) and :mod:`.subprocess_runner` (each
inference backend in its own process: ``benchmark.py --subprocess``). The
tools parse arguments only.

A new benchmark is a module here built on :mod:`.harness`, the one place
that reads the clock:

* clock and sync: :func:`timed_call` (``(result, seconds)`` of one call),
  :func:`synced_clock` (waits for queued CUDA work), :func:`synchronize`;
* interleaved runs: :func:`timed_turns` (the one timing loop: runs take
  turns, warm-up first, optional untimed ``setup`` and time ``budget_s``),
  :func:`interleaved_rounds` (longer runs, e.g. whole benchmarks, in
  turns);
* op and sync counts: :func:`count_ops` (torch.profiler's ``aten::`` calls
  and the :data:`SYNC_OPS`, ``aten::_local_scalar_dense`` and
  ``aten::nonzero``); :func:`peak_memory` (CUDA allocator, or the CPU
  profiler's allocations);
* the machine: :func:`device_name` (GPU name, or :func:`cpu_name`: model
  and AVX2 / AVX-512 / AVX512-BF16 / AMX);
* random inputs: :func:`random_boxes`, :func:`random_batch` (images and
  ``DetDataSample`` ground truth);
* one training step: :func:`build_optim_wrapper` (our wrappers: fp32, bf16
  autocast on CPU, fp16 AMP on CUDA, the step guard) and
  :class:`TrainStep`;
* one table formatter: :func:`format_table` (``(title, spec)`` columns),
  :func:`ratio`.

mmdet 3.3's FCOS built from our config (:mod:`.mmdet_twin`):
:func:`mmdet_model_cfg`, :func:`build_mmdet_fcos`, :func:`build_pair`.
"""
from .harness import (
    SYNC_OPS,
    TrainStep,
    build_optim_wrapper,
    count_ops,
    cpu_name,
    device_name,
    format_table,
    interleaved_rounds,
    peak_memory,
    random_batch,
    random_boxes,
    ratio,
    synced_clock,
    synchronize,
    timed_call,
    timed_turns,
)
from .mmdet_twin import build_mmdet_fcos, build_pair, mmdet_model_cfg

__all__ = [
    'SYNC_OPS', 'TrainStep', 'build_mmdet_fcos', 'build_optim_wrapper',
    'build_pair', 'count_ops', 'cpu_name', 'device_name', 'format_table',
    'interleaved_rounds', 'mmdet_model_cfg', 'peak_memory', 'random_batch',
    'random_boxes', 'ratio', 'synced_clock', 'synchronize', 'timed_call',
    'timed_turns'
]
