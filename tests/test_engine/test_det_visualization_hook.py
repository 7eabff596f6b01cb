"""DetVisualizationHook draws on the picture the model saw, where mmdet's
fails (a truncated JPEG) or differs (alpha)."""
import importlib.util
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmdet.engine.hooks import DetVisualizationHook as MMDetVisHook
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from fcos_mm.engine import DetVisualizationHook
from fcos_mm.registry import HOOKS

_spec = importlib.util.spec_from_file_location(
    'image_fixtures',
    osp.join(osp.dirname(__file__), '..', 'test_datasets',
             'image_fixtures.py'))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def _sample(path, shape):
    sample = DetDataSample(metainfo=dict(img_path=path, img_shape=shape,
                                         ori_shape=shape))
    empty = InstanceData(
        bboxes=torch.zeros((0, 4)),
        labels=torch.zeros((0, ), dtype=torch.long),
        scores=torch.zeros((0, )))
    sample.pred_instances = empty
    sample.gt_instances = InstanceData(
        bboxes=torch.zeros((0, 4)), labels=torch.zeros((0, ),
                                                      dtype=torch.long))
    return sample


@pytest.fixture
def visualizer():
    vis = DetLocalVisualizer.get_instance('test_det_visualization_hook')
    vis.dataset_meta = dict(classes=('a', ), palette=[(255, 0, 0)])
    return vis


def test_draws_truncated_and_transparent_images(tmp_path, visualizer):
    assert HOOKS.get('DetVisualizationHook') is DetVisualizationHook
    cut, logo = str(tmp_path / 'cut.jpg'), str(tmp_path / 'logo.png')
    fx.write_truncated_jpeg(cut)
    expected_logo = fx.write_rgba_png(logo)
    outputs = [_sample(cut, (64, 48)), _sample(logo, (8, 10))]
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='ts', iter=0)

    with pytest.raises(Exception):  # mmdet's: decodes None, then fails
        MMDetVisHook(draw=True, test_out_dir='mm').after_test_iter(
            runner, 0, {}, outputs)

    hook = DetVisualizationHook(draw=True, test_out_dir='vis')
    hook.after_test_iter(runner, 0, {}, outputs)
    hook.after_test_iter(runner, 1, {}, outputs[1:])
    out_dir = osp.join(str(tmp_path), 'ts', 'vis')
    # Ground truth left, predictions right: twice the width.
    assert cv2.imread(osp.join(out_dir, 'cut.jpg')).shape == (64, 96, 3)
    drawn = cv2.imread(osp.join(out_dir, 'logo.png'))
    np.testing.assert_array_equal(drawn[:, :10], expected_logo)
    assert hook._test_index == 3


def test_val_draws_every_interval(tmp_path, visualizer, monkeypatch):
    path = str(tmp_path / 'a.jpg')
    fx.write_truncated_jpeg(path)
    drawn = []
    monkeypatch.setattr(visualizer, 'add_datasample',
                        lambda name, img, **kw: drawn.append(
                            (name, img.shape, kw['step'])))
    hook = DetVisualizationHook(draw=True, interval=2)
    runner = SimpleNamespace(iter=10)
    for batch_idx in range(4):
        hook.after_val_iter(runner, batch_idx, {}, [_sample(path,
                                                            (64, 48))])
    assert drawn == [('val_img', (64, 48, 3), 10),
                     ('val_img', (64, 48, 3), 12)]
    DetVisualizationHook(draw=False).after_val_iter(runner, 0, {}, [])
    DetVisualizationHook(draw=False).after_test_iter(runner, 0, {}, [])
