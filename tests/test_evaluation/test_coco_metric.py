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
