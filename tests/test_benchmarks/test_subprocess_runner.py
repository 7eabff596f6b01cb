"""The benchmark's subprocess mode: one row per backend, each timed in
its own process, the CPU named."""
import importlib.util
import os.path as osp
import subprocess
import sys

from fcos_mm.benchmarks.harness import cpu_name
from fcos_mm.benchmarks.subprocess_runner import (
    benchmark_backends,
    format_rows,
)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'deploy_conftest',
    osp.join(REPO, 'tests', 'test_deployment', 'conftest.py'))
deploy_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deploy_conftest)


def test_cpu_name_names_the_isa(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('model name\t: AMD EPYC 9R14\n'
                       'flags\t\t: fpu avx2 avx512f avx512_bf16\n')
    text = cpu_name(str(cpuinfo))
    assert text.startswith('AMD EPYC 9R14, ')
    assert text.endswith('ISA: AVX512-BF16, AVX-512, AVX2')


def test_one_row_per_backend_each_in_its_own_process(r50_model, tmp_path,
                                                      monkeypatch):
    config = tmp_path / 'tiny.py'
    config.write_text(
        f"model = {deploy_conftest.tiny_model_cfg(r50_model)!r}\n"
        "default_scope = 'fcos_mm'\n")
    monkeypatch.setenv('PYTHONPATH', REPO)
    pids = []
    real_run = subprocess.run

    def counting_run(command, **kwargs):
        proc = real_run(command, **kwargs)
        pids.append(command[command.index('--worker') + 1])
        return proc

    monkeypatch.setattr(subprocess, 'run', counting_run)
    backends = ('mmdet-fp32', 'fp32', 'amp', 'onnxruntime', 'openvino-f32')
    result = benchmark_backends(str(config), None, backends, (64, 64),
                                num_warmup=1, num_runs=2, num_threads=1)
    assert pids == list(backends)  # one process each, in order
    rows = result['rows']
    assert [row['backend'] for row in rows] == list(backends)
    for row in rows:
        assert row['ms'] > 0 and len(row['runs_ms']) == 2
    assert rows[0]['ratio'] == 1.0
    assert rows[4]['note'] == 'f32: asked for'
    table = format_rows(result)
    assert table.startswith('CPU: ')
    assert table.count('\n| ') == 2 + len(backends)  # + the rule


def test_the_worker_refuses_an_unknown_backend():
    proc = subprocess.run([
        sys.executable, '-m', 'fcos_mm.benchmarks.subprocess_runner',
        '--worker', 'tensorrt', 'x.py', '--export-dir', '.', '--shape', '8',
        '8'
    ], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'tensorrt'" in (
        proc.stderr)
