"""The backend benchmark: its synthetic set and its report."""
import importlib.util
import os.path as osp

import numpy as np

from fcos_mm.benchmarks.benchmark_eval import (
    benchmark_backends,
    format_backend_benchmark,
    synthetic_eval_set,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_synthetic_eval_set_shapes():
    coco, results = synthetic_eval_set(5, boxes_per_image=3,
                                       detections_per_image=10,
                                       num_classes=4)
    assert [img['id'] for img in coco['images']] == [1, 2, 3, 4, 5]
    assert len(coco['categories']) == 4
    assert all(1 <= ann['category_id'] <= 4 for ann in coco['annotations'])
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert w >= 8 - 1e-6 and h >= 8 - 1e-6 and x + w <= 640
        assert ann['area'] == w * h
    for gt, pred in results:
        assert pred['bboxes'].shape == (10, 4)
        assert np.all(np.diff(pred['scores']) <= 0)  # by decreasing score
        assert pred['labels'].max() < 4
        assert gt['img_id'] == pred['img_id']
    # same seed, same set
    again, _ = synthetic_eval_set(5, boxes_per_image=3,
                                  detections_per_image=10, num_classes=4)
    assert again == coco


def test_benchmark_backends_agree():
    result = benchmark_backends(6, num_classes=3, detections_per_image=8)
    assert result['equal']
    assert result['ratio']['pycocotools'] == 1.0
    assert result['num_detections'] == 48
    text = format_backend_benchmark(result)
    assert '12 numbers equal: yes' in text
    assert 'faster_coco_eval' in text and '6 images' in text


def test_benchmark_tool_runs(capsys):
    spec = importlib.util.spec_from_file_location(
        'benchmark_eval',
        osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_eval.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main(['--num-images', '4', '--detections-per-image', '6'])
    out = capsys.readouterr().out
    assert '4 images' in out and '12 numbers equal: yes' in out


def test_benchmark_report_writes_the_report(tmp_path):
    from fcos_mm.benchmarks.benchmark_eval import benchmark_report
    result = benchmark_report(4, str(tmp_path), num_classes=3,
                              detections_per_image=6)
    assert result['num_images'] == 4 and result['seconds'] > 0
    assert osp.exists(result['paths']['html'])
    import json
    report = json.load(open(result['paths']['json']))
    assert report['summary']['images'] == 4
    # the paper's ranges on 640 x 480 inputs: every box on some level
    assert sum(row['boxes'] for row in report['fcos']['levels']) == \
        report['summary']['boxes']
