"""``import fcos_mm`` has no side effects; register_all_modules() does the
registering and installs the safe checkpoint loader (load_from_local, which
is load_safely under the name mmengine logs), visibly."""
import subprocess
import sys

# Prints what importing fcos_mm (and its bottom layers) changed, then what
# register_all_modules() changed, in a fresh process.
CODE = '''
import sys
from mmengine.runner.checkpoint import CheckpointLoader
schemes = dict(CheckpointLoader._schemes)
import fcos_mm, fcos_mm.registry, fcos_mm.utils
print(sorted(m.split('.')[1] for m in sys.modules
             if m.startswith('fcos_mm.') and m.count('.') == 1))
print(CheckpointLoader._schemes == schemes)
from fcos_mm.utils import register_all_modules
from fcos_mm.utils.checkpoint import load_from_local
register_all_modules(init_default_scope=False)
print(CheckpointLoader._schemes[''] is load_from_local)
print(sorted(m.split('.')[1] for m in sys.modules
             if m.startswith('fcos_mm.') and m.count('.') == 1))
'''


def test_import_has_no_side_effects_and_register_all_modules_has_them():
    out = subprocess.run([sys.executable, '-c', CODE],
                         capture_output=True,
                         text=True,
                         check=True).stdout.splitlines()
    # The registry and utils sit at the bottom: they import no package of
    # ours above them, and importing them installs nothing.
    assert out[0] == str(['registry', 'utils', 'version'])
    assert out[1] == 'True'
    assert out[2] == 'True'
    # Everything that registers, found through the nodes' locations.
    for package in ('datasets', 'deployment', 'engine', 'evaluation',
                    'models'):
        assert f"'{package}'" in out[3]
