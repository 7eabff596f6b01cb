"""The package's layout rules (issue 27), read from the source with ``ast``:
the subpackages import each other one way only (every import counted,
those inside functions too), the report's computations never reach into
models or studies, and one module reads the clock."""
import ast
import os
import os.path as osp

import pytest

ROOT = osp.join(osp.dirname(__file__), '..', 'fcos_mm')


def _modules():
    """(dotted module name, is a package, source path) of fcos_mm."""
    for folder, _, files in os.walk(ROOT):
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            rel = osp.relpath(path, osp.join(ROOT, '..'))[:-3]
            parts = rel.split(os.sep)
            package = parts[-1] == '__init__'
            if package:
                parts = parts[:-1]
            yield '.'.join(parts), package, path


def _imported(module, package, tree):
    """The fcos_mm modules ``tree`` imports (absolute names)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = module.split('.')
                parts = parts if package else parts[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            names = [base] + [f'{base}.{alias.name}' for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.startswith('fcos_mm.'))


def _subpackage(name):
    return name.split('.')[1]


def _graph():
    """Subpackage -> the subpackages (and top-level modules) it imports."""
    edges = {}
    for module, package, path in _modules():
        if module == 'fcos_mm':
            continue
        with open(path) as f:
            tree = ast.parse(f.read())
        source = _subpackage(module)
        for name in _imported(module, package, tree):
            target = _subpackage(name)
            if target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def test_subpackages_import_one_way():
    edges = _graph()
    # a depth-first search for a circle, reporting its path
    state = {}

    def visit(node, path):
        state[node] = 'open'
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 'open':
                pytest.fail('import circle: ' + ' -> '.join(
                    path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[node] = 'done'

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize('package, never', [
    ('registry', {'utils', 'datasets', 'models', 'evaluation', 'engine'}),
    ('utils', {'models', 'evaluation', 'analysis', 'benchmarks', 'engine'}),
    ('evaluation', {'models', 'analysis', 'benchmarks', 'engine'}),
    ('visualization', {'models', 'evaluation', 'analysis', 'benchmarks'}),
    ('models', {'evaluation', 'analysis', 'benchmarks', 'engine', 'apis'}),
    ('engine', {'apis', 'analysis', 'benchmarks'}),
    ('deployment', {'engine', 'apis', 'analysis', 'benchmarks'}),
])
def test_lower_layers_import_nothing_above(package, never):
    assert not _graph().get(package, set()) & never


def test_one_module_reads_the_clock():
    readers = set()
    for module, _, path in _modules():
        with open(path) as f:
            if 'perf_counter' in f.read():
                readers.add(module)
    # the stopwatch, and the progress bar's elapsed/ETA column
    assert readers == {'fcos_mm.utils.stopwatch', 'fcos_mm.utils.progress'}
