"""Each inference backend timed in its own process.

Runtimes interleaved in one process bias each other (onnxruntime's and
OpenVINO's intra-op threads spin after a run and starve torch's; issue 30
measured ``--amp`` 3739 ms interleaved against 517 ms alone), so
:func:`benchmark_backends` exports the models once, then starts one fresh
Python per backend (``python -m fcos_mm.benchmarks.subprocess_runner
--worker BACKEND ...``) that builds only that backend, runs untimed
warm-ups and reports the median of the timed runs as one JSON line.

Backends (:data:`BACKENDS`): ``mmdet-fp32`` (mmdet 3.3's FCOS, same
weights), ``fp32`` (ours, eager), ``amp`` (BatchNorm folded, bf16 autocast
where the CPU has bf16 units), ``compiled`` (``amp`` + torch.compile),
``onnxruntime`` (our ONNX), ``openvino-f32`` / ``openvino-bf16`` /
``openvino-int8`` (our IR; int8 calibrated on the config's val images, or
on random input when they cannot be read: speed only). One ``(1, 3, H, W)``
random input, the whole model with its post-processing; random weights
(seed 0) unless a checkpoint is given.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .harness import cpu_name, synced_clock, timed_turns

BACKENDS = ('mmdet-fp32', 'fp32', 'amp', 'compiled', 'onnxruntime',
            'openvino-f32', 'openvino-bf16', 'openvino-int8')
#: Exported file each exported backend runs (in the export folder).
_FILES = {'onnxruntime': 'model.onnx', 'openvino-f32': 'model.xml',
          'openvino-bf16': 'model.xml', 'openvino-int8': 'int8/model.xml'}
RESULT_MARK = 'FCOS_MM_BENCHMARK '


def _build(config: str, checkpoint: Optional[str], **kwargs):
    import torch

    from fcos_mm.apis import init_detector

    torch.manual_seed(0)  # the same random weights in every process
    return init_detector(config, checkpoint, **kwargs)


def _runner(backend: str, config: str, checkpoint: Optional[str],
            export_dir: str, shape: Tuple[int, int]):
    """A function running the whole model once on one random input."""
    import torch

    from fcos_mm.deployment import compile_for_cpu, prepare_cpu_inference

    from .benchmark import run_stages
    from .mmdet_twin import build_mmdet_fcos

    images = torch.randn((1, 3) + tuple(shape),
                         generator=torch.Generator().manual_seed(0))
    metas = [dict(img_shape=tuple(shape))]
    if backend in _FILES:
        precision = dict(zip(('openvino-f32', 'openvino-bf16'),
                             ('f32', 'bf16'))).get(backend, 'auto')
        model = _build(config, osp.join(export_dir, _FILES[backend]),
                       precision=precision)
        note = getattr(model, 'precision_note', '')
        return (lambda: model.run(images, [tuple(shape)])), note
    model = _build(config, checkpoint)
    note = 'eager fp32'
    if backend == 'mmdet-fp32':
        model = build_mmdet_fcos(model.cfg.model, model.state_dict())
    elif backend in ('amp', 'compiled'):
        note = prepare_cpu_inference(model, amp=True)
        if backend == 'compiled':
            note += '; ' + compile_for_cpu(model)
    elif backend != 'fp32':
        raise ValueError(f'unknown backend {backend!r}: one of {BACKENDS}')

    def run():
        with torch.no_grad():
            return run_stages(model, images, metas,
                              synced_clock(torch.device('cpu')))

    return run, note


def time_backend(backend: str, config: str, checkpoint: Optional[str],
                 export_dir: str, shape: Tuple[int, int], num_warmup: int,
                 num_runs: int) -> Dict:
    """Time ``backend`` in this process: ``ms`` (median of ``num_runs``
    after ``num_warmup``), ``runs_ms`` and ``note``."""
    run, note = _runner(backend, config, checkpoint, export_dir, shape)
    runs = [1000 * seconds for seconds in timed_turns(
        {backend: run}, num_warmup, num_runs)[backend]]
    return dict(backend=backend, ms=float(np.median(runs)),
                runs_ms=[round(ms, 2) for ms in runs], note=note)


def export_models(config: str, checkpoint: Optional[str],
                  backends: Sequence[str], shape: Tuple[int, int],
                  export_dir: str, calib_images: int = 10) -> List[str]:
    """Write the static exports the ``backends`` need into ``export_dir``;
    notes of what was done."""
    from fcos_mm.deployment import export_onnx, export_openvino
    from fcos_mm.deployment.openvino_export import calibration_inputs

    notes = []
    needed = {_FILES[name] for name in backends if name in _FILES}
    if not needed:
        return notes
    model = _build(config, checkpoint)
    if 'model.onnx' in needed:
        export_onnx(model, osp.join(export_dir, 'model.onnx'), shape=shape)
    if 'model.xml' in needed:
        export_openvino(model, osp.join(export_dir, 'model.xml'), shape=shape)
    if 'int8/model.xml' in needed:
        try:
            calibration = calibration_inputs(model, calib_images, shape)
            notes.append(f'int8 calibrated on {len(calibration)} val images')
        except Exception as e:  # noqa: BLE001 (no data: speed only)
            rng = np.random.default_rng(0)
            calibration = [
                dict(input=rng.standard_normal((1, 3) + tuple(shape),
                                               dtype=np.float32),
                     img_shapes=np.array([shape], dtype=np.float32))
                for _ in range(calib_images)]
            notes.append(f'int8 calibrated on {calib_images} random inputs '
                         f'(val images unreadable: {type(e).__name__}): '
                         'its speed is meaningful, its accuracy not')
        export_openvino(model, osp.join(export_dir, 'int8', 'model.xml'),
                        shape=shape, calibration=calibration)
    return notes


def benchmark_backends(config: str,
                       checkpoint: Optional[str] = None,
                       backends: Sequence[str] = BACKENDS,
                       shape: Tuple[int, int] = (800, 1344),
                       num_warmup: int = 2,
                       num_runs: int = 5,
                       num_threads: Optional[int] = None,
                       calib_images: int = 10,
                       timeout: float = 1800) -> Dict:
    """Time each of ``backends`` in its own subprocess, one after another.

    Returns:
        dict: ``rows`` (one per backend, in order: ``backend``, ``ms``,
        ``runs_ms``, ``note``, ``ratio`` to the first row), ``cpu``
        (:func:`~.harness.cpu_name`), ``notes`` and the settings.
    """
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown:
        raise ValueError(f'unknown backend(s) {unknown}: choose from '
                         f'{BACKENDS}')
    env = dict(os.environ)
    if num_threads is not None:
        env['OMP_NUM_THREADS'] = str(num_threads)
    rows = []
    with tempfile.TemporaryDirectory() as export_dir:
        notes = export_models(config, checkpoint, backends, shape, export_dir,
                              calib_images)
        for backend in backends:
            command = [
                sys.executable, '-m', __name__, '--worker', backend, config,
                '--checkpoint', checkpoint or 'none', '--export-dir',
                export_dir, '--shape', str(shape[0]), str(shape[1]),
                '--num-warmup', str(num_warmup), '--num-runs', str(num_runs)
            ]
            proc = subprocess.run(command, env=env, capture_output=True,
                                  text=True, timeout=timeout)
            line = next((line for line in proc.stdout.splitlines()
                         if line.startswith(RESULT_MARK)), None)
            if proc.returncode != 0 or line is None:
                raise RuntimeError(
                    f'benchmark of {backend} failed (exit '
                    f'{proc.returncode}):\n{proc.stderr[-3000:]}')
            rows.append(json.loads(line[len(RESULT_MARK):]))
    for row in rows:
        row['ratio'] = row['ms'] / rows[0]['ms']
    return dict(rows=rows, cpu=cpu_name(), notes=notes, shape=shape,
                num_warmup=num_warmup, num_runs=num_runs,
                num_threads=num_threads)


def format_rows(result: Dict) -> str:
    """A markdown table of :func:`benchmark_backends`, the CPU named."""
    first = result['rows'][0]['backend']
    lines = [
        f'CPU: {result["cpu"]}',
        f'input 1x3x{result["shape"][0]}x{result["shape"][1]}, each backend '
        f'in its own process, median of {result["num_runs"]} after '
        f'{result["num_warmup"]} warm-ups, '
        f'{result["num_threads"] or "default"} threads', '',
        f'| backend | ms / image | / {first} | note |', '| --- | --- | --- | '
        '--- |'
    ]
    lines += [f'| {row["backend"]} | {row["ms"]:.1f} | {row["ratio"]:.3f} | '
              f'{row["note"]} |' for row in result['rows']]
    lines += [f'note: {note}' for note in result['notes']]
    return '\n'.join(lines)


def _worker(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--worker', required=True, choices=BACKENDS)
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default='none')
    parser.add_argument('--export-dir', required=True)
    parser.add_argument('--shape', type=int, nargs=2, required=True)
    parser.add_argument('--num-warmup', type=int, default=2)
    parser.add_argument('--num-runs', type=int, default=5)
    args = parser.parse_args(argv)
    threads = os.environ.get('OMP_NUM_THREADS')
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    result = time_backend(
        args.worker, args.config,
        None if args.checkpoint == 'none' else args.checkpoint,
        args.export_dir, tuple(args.shape), args.num_warmup, args.num_runs)
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == '__main__':
    _worker(sys.argv[1:])
