"""Drawing detections: which boxes are drawn, and where files go."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from fcos_mm.apis import (
    detections_above,
    draw_detections,
    inference_detector,
    init_detector,
    list_images,
)


def _result(bboxes, scores, labels):
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(bboxes, dtype=torch.float32),
        scores=torch.tensor(scores),
        labels=torch.tensor(labels))
    return sample


def test_list_images_file_folder_and_errors(tmp_path):
    (tmp_path / 'sub').mkdir()
    for name in ('b.png', 'a.JPG', 'sub/c.jpeg', 'notes.txt'):
        (tmp_path / name).write_bytes(b'x')
    found = list_images(tmp_path)
    assert [osp.relpath(p, tmp_path) for p in found] == [
        'a.JPG', 'b.png', osp.join('sub', 'c.jpeg')
    ]
    assert list_images(tmp_path / 'b.png') == [str(tmp_path / 'b.png')]
    with pytest.raises(FileNotFoundError, match='nothing_here'):
        list_images(tmp_path / 'nothing_here')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='holds no image'):
        list_images(tmp_path / 'empty')


def test_detections_above_filters_sorts_and_names():
    result = _result([[0, 0, 4, 4], [1, 1, 5, 5], [2, 2, 6, 6]],
                     [0.2, 0.9, 0.5], [0, 2, 1])
    found = detections_above(result, 0.5, ['a', 'b', 'c'])
    assert [d['class'] for d in found] == ['c', 'b']
    assert found[0]['bbox'] == [1.0, 1.0, 5.0, 5.0]
    assert found[1]['score'] == pytest.approx(0.5)
    assert [d['class'] for d in detections_above(result, 0.0)] == [
        '2', '1', '0'
    ]


def test_draw_detections_draws_only_boxes_above_threshold(tmp_path,
                                                          make_config):
    torch.manual_seed(0)
    model = init_detector(make_config(score_thr=0.0))
    img = np.full((64, 96, 3), 90, np.uint8)
    img[10:40, 20:70] = (30, 160, 220)
    src = tmp_path / 'scene.jpg'
    mmcv.imwrite(img, str(src))
    original = mmcv.imread(str(src), channel_order='rgb')

    # Above every score: nothing drawn, the PNG is the image itself.
    (none, ) = draw_detections(model, [str(src)], str(tmp_path / 'none'),
                               score_thr=1.01)
    assert none == str(tmp_path / 'none' / 'scene.png')
    assert np.array_equal(mmcv.imread(none, channel_order='rgb'), original)

    # Threshold 0: the random model's boxes are drawn, inside their
    # rectangles the picture changes.
    (drawn, ) = draw_detections(model, [str(src)], str(tmp_path / 'all'),
                                score_thr=0.0)
    out = mmcv.imread(drawn, channel_order='rgb')
    assert out.shape == original.shape
    assert not np.array_equal(out, original)


def test_draw_detections_uses_given_results_without_running_the_model(
        tmp_path, make_config, monkeypatch):
    torch.manual_seed(0)
    model = init_detector(make_config(score_thr=0.0))
    src = tmp_path / 'scene.jpg'
    mmcv.imwrite(np.full((64, 96, 3), 90, np.uint8), str(src))
    result = inference_detector(model, str(src))
    (first, ) = draw_detections(model, [str(src)], str(tmp_path / 'a'),
                                score_thr=0.0)

    import fcos_mm.apis.visualization as vis

    def no_inference(*args, **kwargs):
        raise AssertionError('the model ran again')

    monkeypatch.setattr(vis, 'inference_detector', no_inference)
    (second, ) = draw_detections(model, [str(src)], str(tmp_path / 'b'),
                                 score_thr=0.0, results=[result])
    assert np.array_equal(mmcv.imread(first), mmcv.imread(second))


def test_draw_detections_draws_on_what_the_model_saw(tmp_path, make_config):
    # A truncated JPEG (OpenCV refuses it) and an RGBA PNG: drawn on the
    # decoded picture (tolerant decoder; alpha over white), not refused.
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'image_fixtures',
        osp.join(osp.dirname(__file__), '..', 'test_datasets',
                 'image_fixtures.py'))
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    model = init_detector(make_config(score_thr=0.0))
    cut, logo = str(tmp_path / 'cut.jpg'), str(tmp_path / 'logo.png')
    fx.write_truncated_jpeg(cut)
    expected_logo = fx.write_rgba_png(logo)
    with pytest.warns(UserWarning, match='cut.jpg'):
        drawn = draw_detections(model, [cut, logo], str(tmp_path / 'out'),
                                score_thr=1.01)
    assert mmcv.imread(drawn[0]).shape == (64, 48, 3)
    np.testing.assert_array_equal(mmcv.imread(drawn[1]), expected_logo)
