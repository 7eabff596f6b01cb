"""Our CocoMetric: mmdet's, with a proposal_fast that survives images with
different numbers of boxes (mmdet 3.3's raises on numpy >= 1.24)."""
import json

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import eval_recalls as mmdet_recalls
from mmdet.evaluation.metrics import CocoMetric as MMDetCocoMetric
from mmengine.registry import DefaultScope

from fcos_mm.evaluation import CocoMetric
from fcos_mm.evaluation.metrics.coco_metric import eval_recalls
from fcos_mm.registry import METRICS

# image 1: two boxes (one crowd, left out); image 2: three; image 3: none
ANNS = [
    (1, [0, 0, 10, 10], 0), (1, [20, 20, 10, 20], 0), (1, [5, 5, 50, 50], 1),
    (2, [0, 0, 30, 30], 0), (2, [40, 40, 20, 20], 0), (2, [60, 0, 8, 8], 0),
]


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text(
        json.dumps(
            dict(
                images=[
                    dict(id=i, file_name=f'{i}.jpg', width=100, height=100)
                    for i in (1, 2, 3)
                ],
                annotations=[
                    dict(
                        id=k,
                        image_id=img,
                        category_id=1,
                        bbox=box,
                        area=box[2] * box[3],
                        iscrowd=crowd)
                    for k, (img, box, crowd) in enumerate(ANNS, 1)
                ],
                categories=[dict(id=1, name='thing')])))
    return str(path)


def proposals():
    return {
        # matches box 0 exactly, box 1 at IoU 150 / 250 = 0.6, then junk
        1: [[0, 0, 10, 10], [20, 25, 30, 45], [80, 80, 90, 90]],
        # box 0 at IoU 0.81, box 2 exactly only as the 4th proposal
        2: [[0, 0, 27, 27], [90, 90, 99, 99], [70, 70, 80, 80],
            [60, 0, 68, 8]],
        3: [[1, 1, 5, 5]],
    }


def run_metric(metric):
    metric.dataset_meta = dict(classes=('thing', ))
    for img_id, boxes in proposals().items():
        boxes = torch.tensor(boxes, dtype=torch.float32)
        metric.process({}, [
            dict(
                img_id=img_id,
                ori_shape=(100, 100),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.linspace(1, 0.5, len(boxes)),
                    labels=torch.zeros(len(boxes), dtype=torch.long)))
        ])
    return metric.evaluate(size=3)


def test_registered_under_mmdet_name():
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        assert METRICS.get('CocoMetric') is CocoMetric
    assert issubclass(CocoMetric, MMDetCocoMetric)


def test_proposal_fast_on_ragged_images(ann_file):
    # mmdet's own fails on these images (2, 3 and 0 boxes)
    with pytest.raises(ValueError, match='inhomogeneous'):
        run_metric(
            MMDetCocoMetric(
                ann_file=ann_file, metric='proposal_fast',
                proposal_nums=(1, 2, 4)))
    results = run_metric(
        CocoMetric(
            ann_file=ann_file, metric='proposal_fast',
            proposal_nums=(1, 2, 4), iou_thrs=[0.5, 0.75]))
    # 5 non-crowd boxes. Top 1: box (1, 0) at IoU 1, (2, 0) at 0.81 ->
    # 2 of 5 at both thresholds; top 2: + (1, 1) at IoU 0.6 -> 3 / 2 of 5;
    # top 4: + (2, 2) at IoU 1 -> 4 / 3 of 5. Box (2, 1) is never found.
    assert results['coco/AR@1'] == pytest.approx((2 / 5 + 2 / 5) / 2)
    assert results['coco/AR@2'] == pytest.approx((3 / 5 + 2 / 5) / 2)
    assert results['coco/AR@4'] == pytest.approx((4 / 5 + 3 / 5) / 2)


def test_eval_recalls_equals_mmdet_where_mmdet_runs():
    """With the same number of boxes in every image mmdet's stacking works:
    the recalls agree."""
    rng = np.random.default_rng(0)

    def boxes(n):
        xy = rng.uniform(0, 50, (n, 2))
        return np.hstack([xy, xy + rng.uniform(5, 40, (n, 2))]).astype(
            np.float32)

    gts = [boxes(3) for _ in range(4)]
    props = [np.hstack([boxes(20), rng.uniform(0, 1, (20, 1))])
             for _ in range(4)]
    nums, thrs = [1, 5, 20], [0.5, 0.7, 0.9]
    np.testing.assert_allclose(
        eval_recalls(gts, props, nums, thrs),
        mmdet_recalls(gts, props, nums, thrs))
    assert eval_recalls(gts, props, nums, thrs).shape == (3, 3)
    with pytest.raises(ValueError, match='4 images'):
        eval_recalls(gts, props[:3], nums, thrs)


# ---- backends: faster-coco-eval against pycocotools ----

def evaluate_synthetic(tmp_path, backend, num_images=40, classwise=False):
    """Our metric with ``backend`` on a small synthetic set (3 classes)."""
    from fcos_mm.benchmarks.benchmark_eval import (
        synthetic_eval_set,
        write_coco,
    )
    coco, results = synthetic_eval_set(num_images, num_classes=3,
                                       detections_per_image=20, seed=1)
    ann = write_coco(coco, str(tmp_path / f'{backend}.json'))
    metric = CocoMetric(ann_file=ann, backend=backend, classwise=classwise)
    metric.dataset_meta = dict(
        classes=tuple(cat['name'] for cat in coco['categories']))
    return metric, metric.compute_metrics(list(results))


def per_class_ap(coco_eval):
    """AP per class over IoU 0.5:0.95, all areas, last maxDets (mmdet's
    classwise rule)."""
    precision = coco_eval.eval['precision'][:, :, :, 0, -1]
    return [float(np.mean(p[p > -1])) for p in precision.transpose(2, 0, 1)]


def test_faster_coco_eval_equals_pycocotools(tmp_path):
    fast, fast_results = evaluate_synthetic(tmp_path, 'faster_coco_eval',
                                            classwise=True)
    slow, slow_results = evaluate_synthetic(tmp_path, 'pycocotools',
                                            classwise=True)
    assert fast.backend == 'faster_coco_eval'
    from faster_coco_eval import COCOeval_faster
    from pycocotools.cocoeval import COCOeval
    assert isinstance(fast.coco_eval, COCOeval_faster)
    assert isinstance(slow.coco_eval, COCOeval)
    assert fast_results == slow_results
    # all 12 numbers and the per-class APs, unrounded: equal up to the
    # last bit of a mean (summation order)
    np.testing.assert_allclose(fast.coco_eval.stats[:12],
                               slow.coco_eval.stats[:12], rtol=0, atol=1e-12)
    assert 0.05 < slow.coco_eval.stats[0] < 0.95
    np.testing.assert_allclose(per_class_ap(fast.coco_eval),
                               per_class_ap(slow.coco_eval), rtol=0,
                               atol=1e-12)
    # the curves themselves: pycocotools' running precision leaves some
    # 1.0s one ulp short, faster-coco-eval's does not
    np.testing.assert_allclose(fast.coco_eval.eval['precision'],
                               slow.coco_eval.eval['precision'],
                               rtol=0, atol=1e-12)


def test_backends_equal_on_hand_fixture(ann_file):
    stats = {}
    for backend in ('faster_coco_eval', 'pycocotools'):
        metric = CocoMetric(ann_file=ann_file, backend=backend)
        results = run_metric(metric)
        stats[backend] = metric.coco_eval.stats[:12]
    np.testing.assert_allclose(stats['faster_coco_eval'],
                               stats['pycocotools'], rtol=0, atol=1e-12)
    # the metric reports the evaluator's numbers, rounded
    assert results['coco/bbox_mAP_50'] == pytest.approx(
        stats['pycocotools'][1], abs=5e-4)


def test_mmdet_evaluator_restored(tmp_path, monkeypatch):
    import mmdet.evaluation.metrics.coco_metric as mmdet_module
    original = mmdet_module.COCOeval
    evaluate_synthetic(tmp_path, 'faster_coco_eval', num_images=3)
    assert mmdet_module.COCOeval is original

    def broken(self):
        raise RuntimeError('boom')

    monkeypatch.setattr(CocoMetric, 'results2json',
                        lambda self, *args: broken(self))
    with pytest.raises(RuntimeError, match='boom'):
        evaluate_synthetic(tmp_path, 'faster_coco_eval', num_images=3)
    assert mmdet_module.COCOeval is original


def test_backend_choice(monkeypatch):
    from fcos_mm.evaluation.metrics import coco_metric
    assert coco_metric.resolve_backend('auto') == 'faster_coco_eval'
    assert coco_metric.resolve_backend('pycocotools') == 'pycocotools'
    with pytest.raises(ValueError, match='backend must be one of'):
        CocoMetric(backend='detectron2')
    real_find_spec = coco_metric.importlib.util.find_spec
    monkeypatch.setattr(
        coco_metric.importlib.util, 'find_spec',
        lambda name: None if name == 'faster_coco_eval' else
        real_find_spec(name))
    assert coco_metric.resolve_backend('auto') == 'pycocotools'
    with pytest.raises(ImportError, match='pip install faster-coco-eval'):
        coco_metric.resolve_backend('faster_coco_eval')


def test_results2json_same_file_as_mmdet(tmp_path):
    from fcos_mm.benchmarks.benchmark_eval import synthetic_eval_set
    _, results = synthetic_eval_set(4, num_classes=3, detections_per_image=5)
    preds = [pred for _, pred in results]
    preds.append(dict(img_id=99, bboxes=np.zeros((0, 4), np.float32),
                      scores=np.zeros(0, np.float32),
                      labels=np.zeros(0, np.int64)))
    ours = CocoMetric(outfile_prefix=str(tmp_path / 'ours'))
    theirs = MMDetCocoMetric()
    ours.cat_ids = theirs.cat_ids = [5, 7, 9]
    mine = ours.results2json(preds, str(tmp_path / 'ours'))
    reference = theirs.results2json(preds, str(tmp_path / 'theirs'))
    assert mine.keys() == reference.keys()
    with open(mine['bbox']) as a, open(reference['bbox']) as b:
        expected = json.load(b)
        assert json.load(a) == expected
    assert len(expected) == 20
    # the same records reach mmdet's compute_metrics from memory
    assert ours._load(mine['bbox']) == expected
    # without outfile_prefix nothing is written
    quiet = CocoMetric()
    quiet.cat_ids = [5, 7, 9]
    files = quiet.results2json(preds, str(tmp_path / 'quiet'))
    assert not (tmp_path / 'quiet.bbox.json').exists()
    assert quiet._load(files['bbox']) == expected


def test_bbox_and_proposal_from_the_same_records(ann_file):
    """Both metrics read the same in-memory records, unchanged by the
    first evaluation; nothing is written without outfile_prefix."""
    metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'proposal'])
    results = run_metric(metric)
    reference = run_metric(MMDetCocoMetric(ann_file=ann_file,
                                           metric=['bbox', 'proposal']))
    assert results == reference
    assert results['coco/AR@100'] > 0
