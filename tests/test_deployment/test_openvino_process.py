"""The OpenVINO backend's tests (test_openvino.py), run in a pytest
process of their own: see ``OPENVINO_CHILD`` in this folder's conftest.
Every test there runs; this test fails when one of them fails."""
import os
import os.path as osp
import re
import subprocess
import sys

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def test_openvino_tests_pass_in_their_own_process():
    env = dict(os.environ, FCOS_MM_OPENVINO_TESTS='1')
    env['PYTHONPATH'] = os.pathsep.join([REPO, env.get('PYTHONPATH', '')])
    proc = subprocess.run([
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        osp.join('tests', 'test_deployment', 'test_openvino.py')
    ], cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout else ''
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r'\b(\d+) passed', summary), summary
    assert not re.search(r'failed|error|skipped', summary), summary
