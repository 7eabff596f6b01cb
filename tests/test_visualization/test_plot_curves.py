import json
import os.path as osp
import runpy
import struct
import sys

import pytest

from fcos_mm.visualization.plot_curves import Curves, load_curves, plot_curves

TOOL = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
    'plot_curves.py')

# What mmengine's LocalVisBackend writes for an iteration-based run with
# LoggerHook(interval=20) and an evaluation every 40 iterations.
ITER_LOG = [
    dict(lr=0.001, data_time=0.01, loss=2.5, loss_cls=1.25, loss_bbox=0.75,
         loss_centerness=0.5, time=0.5, iter=20, memory=0, step=20),
    dict(lr=0.002, data_time=0.01, loss=2.0, loss_cls=1.0, loss_bbox=0.5,
         loss_centerness=0.5, time=0.5, iter=40, memory=0, step=40),
    {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.3, 'coco/bbox_mAP_75': 0.05,
     'coco/bbox_mAP_s': 0.0, 'data_time': 0.0, 'time': 0.2, 'step': 40},
    dict(lr=0.002, data_time=0.01, loss=1.5, loss_cls=0.75, loss_bbox=0.25,
         loss_centerness=0.5, time=0.5, iter=60, memory=0, step=60),
    {'coco/bbox_mAP': 0.4, 'coco/bbox_mAP_50': 0.7, 'coco/bbox_mAP_75': 0.45,
     'coco/bbox_mAP_s': 0.2, 'data_time': 0.0, 'time': 0.2, 'step': 60},
]


def write_log(path, records):
    with open(path, 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')
    return str(path)


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    assert head[12:16] == b'IHDR'
    return struct.unpack('>II', head[16:24])


def test_load_curves_iter_log(tmp_path):
    curves = load_curves(write_log(tmp_path / 'scalars.json', ITER_LOG))
    assert curves.metric_unit == 'iter'
    assert curves.losses == {
        'loss': ([20, 40, 60], [2.5, 2.0, 1.5]),
        'loss_cls': ([20, 40, 60], [1.25, 1.0, 0.75]),
        'loss_bbox': ([20, 40, 60], [0.75, 0.5, 0.25]),
        'loss_centerness': ([20, 40, 60], [0.5, 0.5, 0.5]),
    }
    # time / data_time / step are bookkeeping, not metrics
    assert curves.metrics == {
        'coco/bbox_mAP': ([40, 60], [0.1, 0.4]),
        'coco/bbox_mAP_50': ([40, 60], [0.3, 0.7]),
        'coco/bbox_mAP_75': ([40, 60], [0.05, 0.45]),
        'coco/bbox_mAP_s': ([40, 60], [0.0, 0.2]),
    }


def test_load_curves_epoch_log(tmp_path):
    records = [
        dict(lr=0.01, loss=1.0, loss_cls=0.5, epoch=1, iter=10, step=10),
        {'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_copypaste': '0.2 0.4',
         'time': 1.0, 'step': 1},
        dict(lr=0.01, loss=0.5, loss_cls=0.25, epoch=2, iter=10, step=20),
        {'coco/bbox_mAP': 0.3, 'step': 2},
    ]
    curves = load_curves(write_log(tmp_path / 'log.json', records))
    assert curves.metric_unit == 'epoch'
    assert curves.losses == {'loss': ([10, 20], [1.0, 0.5]),
                             'loss_cls': ([10, 20], [0.5, 0.25])}
    # the string copy-paste summary is skipped
    assert curves.metrics == {'coco/bbox_mAP': ([1, 2], [0.2, 0.3])}


def test_load_curves_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_curves(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(ITER_LOG[0]) + '\n{"loss": 1.0,\n')
    with pytest.raises(ValueError, match=r'bad\.json, line 2: not JSON'):
        load_curves(str(bad))
    no_step = tmp_path / 'no_step.json'
    no_step.write_text('{"loss": 1.0}\n')
    with pytest.raises(ValueError, match=r'no_step\.json, line 1:.*"step"'):
        load_curves(str(no_step))
    empty = tmp_path / 'empty.json'
    empty.write_text('\n')
    with pytest.raises(ValueError, match='no log record'):
        load_curves(str(empty))


def test_plot_curves_writes_png(tmp_path):
    curves = load_curves(write_log(tmp_path / 'scalars.json', ITER_LOG))
    out = str(tmp_path / 'plots' / 'curves.png')
    assert plot_curves(curves, out, title='demo') == out
    # two 6 x 4.5 inch panels at 100 dpi
    assert png_size(out) == (1200, 450)

    only_losses = str(tmp_path / 'losses.png')
    plot_curves(curves, only_losses, metric_keys=[])
    assert png_size(only_losses) == (600, 450)


def test_plot_curves_errors(tmp_path):
    curves = load_curves(write_log(tmp_path / 'scalars.json', ITER_LOG))
    with pytest.raises(KeyError, match='loss_iou'):
        plot_curves(curves, str(tmp_path / 'a.png'), loss_keys=['loss_iou'])
    with pytest.raises(ValueError, match='nothing|no loss'):
        plot_curves(Curves(), str(tmp_path / 'b.png'))
    assert not osp.exists(tmp_path / 'a.png')


def test_plot_curves_tool(tmp_path, monkeypatch, capsys):
    log = write_log(tmp_path / 'scalars.json', ITER_LOG)
    monkeypatch.setattr(sys, 'argv', [TOOL, log])
    runpy.run_path(TOOL, run_name='__main__')
    out = capsys.readouterr().out
    assert 'coco/bbox_mAP: 0.4000 at iter 60' in out
    assert png_size(tmp_path / 'curves.png') == (1200, 450)
