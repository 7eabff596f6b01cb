"""The assignment benchmark: both sides give identical targets on its
inputs, its table keeps its form, and the tool runs its workers."""
import importlib.util
import os.path as osp

import torch

from fcos_mm.benchmarks import benchmark_assigner as bench

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = dict(bench.DEFAULT_SETTING, images=2, height=64, width=96)


def test_inputs_inside_the_image_a_third_integer():
    points, boxes, labels = bench.make_inputs(SMALL, 9)
    assert [p.shape[0] for p in points] == [8 * 12, 4 * 6, 2 * 3, 1 * 2, 1]
    for box, label in zip(boxes, labels):
        assert box.shape == (9, 4) and label.shape == (9, )
        assert torch.equal(box[:3], box[:3].round())
        assert (box[:, 2] <= 96).all() and (box[:, 3] <= 64).all()
    # same seed, same boxes
    assert torch.equal(bench.make_inputs(SMALL, 9)[1][1], boxes[1])


def test_both_sides_give_identical_targets():
    inputs = bench.make_inputs(SMALL, 20)
    ours = dict(result=bench.build_side(SMALL, 'ours')(*inputs))
    ref = dict(result=bench.build_side(SMALL, 'mmdet')(*inputs))
    same, num_pos = bench.compare(ours, ref)
    assert same and num_pos > 0


def test_table_header_as_before():
    header = bench.format_table(bench.COLUMNS, [], sep=' ')[0]
    assert header == (
        '{:>6} | {:>10} {:>8} {:>7} | {:>9} {:>8} {:>7} | {:>9} '
        '{:>6}'.format('boxes', 'mmdet MiB', 'ours MiB', 'ratio',
                       'mmdet s', 'ours s', 'ratio', 'identical', 'pos'))


def test_tool_runs_the_workers(capsys):
    spec = importlib.util.spec_from_file_location(
        'benchmark_assigner',
        osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_assigner.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # no goal at this size: the figures are the tool's, PASS is identity
    assert tool.main(['--boxes', '6', '--goal-boxes', '--images', '1',
                      '--height', '64', '--width', '96', '--repeat',
                      '1']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('FCOS targets, 1 image(s) of 64x96')
    assert lines[3].split()[0] == '6' and lines[3].split()[-2] == 'yes'
    assert lines[-1].startswith('PASS')
