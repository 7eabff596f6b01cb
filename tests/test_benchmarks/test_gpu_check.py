"""The GPU check's command runs end to end on CPU (``--device cpu
--dry-run``: the same table at tiny sizes), so that it is ready when a GPU
is lent."""
import os
import os.path as osp
import subprocess
import sys

from fcos_mm.benchmarks.gpu_check import VARIANTS
from fcos_mm.benchmarks.host_reads import logging_iterations

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def test_logging_iterations():
    assert logging_iterations(25, 10) == (9, 19, 24)
    assert logging_iterations(20, 10) == (9, 19)


def test_dry_run_prints_the_whole_table(tmp_path):
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHONPATH'] = os.pathsep.join([REPO, env.get('PYTHONPATH', '')])
    env['OMP_NUM_THREADS'] = '1'
    env['PYTHON'] = sys.executable
    env['TORCHINDUCTOR_CACHE_DIR'] = str(tmp_path / 'inductor')
    done = subprocess.run(
        ['bash', 'tools/misc/gpu_check.sh', '--device', 'cpu', '--dry-run'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert 'DRY RUN' in out and 'CUDA-only tests are not run' in out
    assert 'FAILED' not in out
    for name, *_ in VARIANTS:
        [row] = [line for line in out.splitlines()
                 if line[:36].rstrip() == name]
        cells = row[36:].split()
        # step ms, x mmdet, goal, syncs, cuda, peak MiB, compile s
        assert float(cells[0]) > 0 and float(cells[1]) > 0
        assert cells[4] == '-'  # no CUDA count on CPU
        assert int(cells[3]) >= 0
    [mmdet] = [line for line in out.splitlines()
               if line[:36].rstrip() == 'mmdet eager']
    assert mmdet[36:].split()[1] == '1.000'
    assert 'guard on / off (ours eager):' in out
    [train] = [line for line in out.splitlines()
               if line.startswith('runner.train()')]
    # the loop's budget holds in the dry run too
    assert 'images/s' in train
    assert 'host reads per non-logging iteration: 0.00' in train
