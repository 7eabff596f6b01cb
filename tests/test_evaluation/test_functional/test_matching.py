"""The evaluation report's numbers on a hand-built set, worked out by hand,
and the matching pass against pycocotools on random sets with crowds.

The hand-built set (classes cat, dog, bird; bird has nothing)::

    image 0 (id 1): g0 cat [0,0,10,10], g1 dog [20,0,30,10]
        d0 cat [0,0,10,10]  .90  true positive (g0)
        d1 cat [0,0,10,10]  .80  duplicate of g0
        d2 cat [20,0,30,10] .70  classification error (g1, IoU 1)
        d4 dog [60,60,70,70] .50  background
        d3 dog [20,0,24,10] .45  localisation error (g1, IoU 0.4)
        d5 dog [0,0,10,4]   .40  both (cat g0 at IoU 0.4)
    image 1 (id 2): g2 dog [0,0,10,10], g3 cat [50,50,60,60] (missed)
        d6 dog [0,0,10,10]  .95  true positive (g2)
    image 2 (id 3): no box
        d7 cat [0,0,5,5]    .30  background (no box in the image)
    image 3 (id 4): g4 cat [0,0,20,20]
        d8 cat [0,0,20,20]  .50  true positive (g4)

Every true positive has IoU 1, so the AP is the same at every threshold.
cat (3 boxes), by score: TP FP FP TP FP -> recall 1/3 1/3 1/3 2/3 2/3,
precision (envelope) 1 .5 .5 .5 .4: precision 1 at the 34 recall points
0..0.33, 0.5 at the 33 points 0.34..0.66 -> AP 50.5/101 = 0.5.
dog (2 boxes): TP FP FP FP -> 1 at the 51 points 0..0.5 -> AP 51/101.
"""
import json

import numpy as np
import pytest

from fcos_mm.benchmarks.benchmark_eval import synthetic_eval_set
from fcos_mm.evaluation import functional as da

CLASSES = ['cat', 'dog', 'bird']
GTS = [  # image index, box, label
    (0, [0, 0, 10, 10], 0), (0, [20, 0, 30, 10], 1),
    (1, [0, 0, 10, 10], 1), (1, [50, 50, 60, 60], 0),
    (3, [0, 0, 20, 20], 0),
]
DETS = [  # image index, box, score, label
    (0, [0, 0, 10, 10], .90, 0), (0, [0, 0, 10, 10], .80, 0),
    (0, [20, 0, 30, 10], .70, 0), (0, [20, 0, 24, 10], .45, 1),
    (0, [60, 60, 70, 70], .50, 1), (0, [0, 0, 10, 4], .40, 1),
    (1, [0, 0, 10, 10], .95, 1), (2, [0, 0, 5, 5], .30, 0),
    (3, [0, 0, 20, 20], .50, 0),
]
AP_CAT, AP_DOG = 50.5 / 101, 51 / 101


def hand_data():
    gt_boxes = np.array([box for _, box, _ in GTS], float)
    return da.EvalData(
        classes=CLASSES, img_ids=np.array([1, 2, 3, 4]),
        img_paths=[''] * 4, img_sizes=np.full((4, 2), 100),
        gt_image=np.array([img for img, _, _ in GTS]),
        gt_boxes=gt_boxes, gt_labels=np.array([lab for _, _, lab in GTS]),
        gt_ignore=np.zeros(len(GTS), bool),
        gt_areas=(gt_boxes[:, 2] - gt_boxes[:, 0]) *
        (gt_boxes[:, 3] - gt_boxes[:, 1]),
        det_image=np.array([img for img, _, _, _ in DETS]),
        det_boxes=np.array([box for _, box, _, _ in DETS], float),
        det_scores=np.array([score for _, _, score, _ in DETS]),
        det_labels=np.array([lab for _, _, _, lab in DETS]))


@pytest.fixture
def hand():
    data = hand_data()
    return data, da.match_detections(data)


def test_matching_and_ap(hand):
    data, matching = hand
    # d0 -> g0, d6 -> g2, d8 -> g4 at every threshold; nothing else
    for thr in range(10):
        assert np.flatnonzero(matching.tp[thr]).tolist() == [0, 6, 8]
        assert matching.det_gt[thr, [0, 6, 8]].tolist() == [0, 2, 4]
    aps = da.class_ap(data, matching)
    np.testing.assert_allclose(aps[:, 0], AP_CAT)
    np.testing.assert_allclose(aps[:, 1], AP_DOG)
    assert np.isnan(aps[:, 2]).all()  # no bird boxes: left out
    curves = da.pr_curves(data, matching)
    cat = curves['0.5'][0]
    np.testing.assert_allclose(cat[:34], 1)
    np.testing.assert_allclose(cat[34:67], 0.5)
    np.testing.assert_allclose(cat[67:], 0)
    np.testing.assert_allclose(curves['0.5:0.95'][-1].mean(),
                               (AP_CAT + AP_DOG) / 2)


def test_matches_cocoeval_on_hand_set(hand, tmp_path):
    """The same set through our CocoMetric (pycocotools)."""
    from fcos_mm.evaluation import CocoMetric
    data, matching = hand
    coco = dict(
        images=[dict(id=i, width=100, height=100, file_name=f'{i}.jpg')
                for i in (1, 2, 3, 4)],
        annotations=[dict(id=k + 1, image_id=int(img) + 1,
                          category_id=int(lab) + 1, iscrowd=0,
                          bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                          area=(b[2] - b[0]) * (b[3] - b[1]))
                     for k, (img, b, lab) in enumerate(GTS)],
        categories=[dict(id=k + 1, name=name)
                    for k, name in enumerate(CLASSES)])
    ann = tmp_path / 'hand.json'
    ann.write_text(json.dumps(coco))
    metric = CocoMetric(ann_file=str(ann), backend='pycocotools')
    metric.dataset_meta = dict(classes=tuple(CLASSES))
    preds = [dict(img_id=img + 1,
                  bboxes=np.array([d[1] for d in DETS if d[0] == img],
                                  np.float32).reshape(-1, 4),
                  scores=np.array([d[2] for d in DETS if d[0] == img],
                                  np.float32),
                  labels=np.array([d[3] for d in DETS if d[0] == img]))
             for img in range(4)]
    metric.compute_metrics([(dict(img_id=p['img_id']), p) for p in preds])
    assert metric.coco_eval.stats[0] == pytest.approx((AP_CAT + AP_DOG) / 2)
    assert metric.coco_eval.stats[1] == pytest.approx((AP_CAT + AP_DOG) / 2)
    # and from the COCO api, as the report loads it
    loaded = da.eval_data_from_coco(metric._coco_api, preds, CLASSES)
    np.testing.assert_array_equal(loaded.gt_labels, data.gt_labels)
    np.testing.assert_allclose(
        da.class_ap(loaded, da.match_detections(loaded)),
        da.class_ap(data, matching), atol=1e-12)


def test_tide_types_and_dap(hand):
    data, matching = hand
    errors = da.tide_errors(data, matching)
    assert errors['det_type'].tolist() == [
        'tp', 'dupe', 'cls', 'loc', 'bkg', 'both', 'tp', 'bkg', 'tp']
    assert errors['det_target'].tolist() == [-1, -1, 1, 1, -1, -1, -1,
                                             -1, -1]
    assert np.flatnonzero(errors['gt_missed']).tolist() == [3]
    tide = da.tide_breakdown(data, matching, errors)
    assert tide['counts'] == dict(cls=1, loc=1, both=1, dupe=1, bkg=2,
                                  missed=1)
    assert tide['ap'] == pytest.approx((AP_CAT + AP_DOG) / 2)
    # classification: d2 becomes dog's second TP at .70 -> dog AP 1; cat
    # without d2: TP FP TP FP -> (34 + 33 * 2/3) / 101 = 56/101
    # duplicate: cat without d1 -> 56/101 too
    # localisation: d3 becomes TP after d4 -> dog (51 + 50 * 2/3) / 101
    # missed: cat counts 2 boxes -> (51 + 50 * .5) / 101 = 76/101
    # background (d4, d7) and both (d5) come after the last TP: no gain
    expected = dict(cls=(56 / 101 + 1 - AP_CAT - AP_DOG) / 2,
                    dupe=(56 / 101 - AP_CAT) / 2,
                    loc=((51 + 100 / 3) / 101 - AP_DOG) / 2,
                    missed=(76 / 101 - AP_CAT) / 2, bkg=0.0, both=0.0)
    for name, value in expected.items():
        assert tide['dap'][name] == pytest.approx(value), name
    np.testing.assert_allclose(tide['class_dap']['cls'],
                               [56 / 101 - AP_CAT, 1 - AP_DOG, 0])


def test_confusion_matrix_counts_each_once(hand):
    data, matching = hand
    result = da.confusion_matrix(data, matching, score_thr=0.0)
    # rows true cat, dog, bird, background; columns predicted, same order
    np.testing.assert_array_equal(result['counts'], [
        [2, 0, 0, 1],  # g0, g4 found; g3 missed
        [1, 1, 0, 0],  # g1 taken by the cat d2; g2 found
        [0, 0, 0, 0],  # no bird: an empty row
        [2, 3, 0, 0],  # d1, d7 (cat); d4, d3, d5 (dog)
    ])
    # every detection once, every box once
    assert result['counts'].sum() == len(DETS) + 1
    np.testing.assert_allclose(result['normalized'], [
        [2 / 3, 0, 0, 1 / 3], [.5, .5, 0, 0], [0, 0, 0, 0],
        [.4, .6, 0, 0]])
    assert result['ignored'] == 0
    high = da.confusion_matrix(data, matching, score_thr=0.6)
    np.testing.assert_array_equal(high['counts'], [
        [1, 0, 0, 2], [1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])


def test_precision_recall_f1(hand):
    data, matching = hand
    # score >= .6: d6, d0 TP; d1, d2 FP; 5 boxes
    at = da.prf_at(data, matching, 0.6)
    assert (at['tp'], at['fp'], at['gts']) == (2, 2, 5)
    assert at['precision'] == pytest.approx(0.5)
    assert at['recall'] == pytest.approx(0.4)
    assert at['f1'] == pytest.approx(2 * .5 * .4 / .9)
    # pooled: F1 .333 (.95), .571 (.90), .5 (.80), .444 (.70), .545 (.50)
    best = da.best_f1(data, matching)
    assert best['threshold'] == pytest.approx(0.9)
    assert best['f1'] == pytest.approx(2 * 1 * .4 / 1.4)
    # cat alone: best at .5 (2 TP of 4 detections, 3 boxes)
    cat = da.best_f1(data, matching, label=0)
    assert cat['threshold'] == pytest.approx(0.5)
    assert cat['precision'] == pytest.approx(0.5)
    assert cat['recall'] == pytest.approx(2 / 3)
    bird = da.best_f1(data, matching, label=2)
    assert np.isnan(bird['threshold']) and bird['f1'] == 0
    curves = da.score_curves(data, matching)
    index = int(np.flatnonzero(np.isclose(curves['score'], 0.6))[0])
    assert curves['precision'][index] == pytest.approx(0.5)
    assert curves['recall'][index] == pytest.approx(0.4)
    # above the top score (.95) nothing is left: precision undefined
    # (not drawn as 1), recall 0
    assert np.isnan(curves['precision'][-1]) and curves['recall'][-1] == 0
    assert curves['precision'][94] == 1.0  # at .94: d6 alone, a TP


def test_image_ap(hand):
    data, matching = hand
    # image 0: cat 1, dog 0; image 1: dog 1, cat 0; image 2 no boxes
    np.testing.assert_allclose(da.image_ap(data, matching),
                               [0.5, 0.5, np.nan, 1.0])


def test_crowd_boxes_ignored():
    data = hand_data()
    # image 3 gets a crowd cat box over a second detection
    data.gt_image = np.r_[data.gt_image, 3]
    data.gt_boxes = np.r_[data.gt_boxes, [[40, 40, 100, 100]]]
    data.gt_labels = np.r_[data.gt_labels, 0]
    data.gt_ignore = np.r_[data.gt_ignore, True]
    data.gt_areas = np.r_[data.gt_areas, 3600]
    data.det_image = np.r_[data.det_image, 3]
    data.det_boxes = np.r_[data.det_boxes, [[50, 50, 60, 60]]]
    data.det_scores = np.r_[data.det_scores, 0.99]
    data.det_labels = np.r_[data.det_labels, 0]
    matching = da.match_detections(data)
    assert matching.ignored[:, 9].all() and not matching.tp[:, 9].any()
    # the ignored detection changes no AP
    np.testing.assert_allclose(da.class_ap(data, matching)[:, 0], AP_CAT)
    assert da.tide_errors(data, matching)['det_type'][9] == 'ignored'
    result = da.confusion_matrix(data, matching, 0.0)
    assert result['ignored'] == 1 and result['counts'].sum() == 10


@pytest.mark.parametrize('max_dets', [1000, 3])
def test_class_ap_equals_cocoeval(tmp_path, max_dets):
    """Random boxes with crowds: per-class AP and mAP as pycocotools'."""
    from fcos_mm.evaluation import CocoMetric
    coco, results = synthetic_eval_set(30, num_classes=4,
                                       detections_per_image=25, seed=2)
    rng = np.random.default_rng(0)
    for ann in coco['annotations']:
        ann['iscrowd'] = int(rng.random() < 0.15)
    ann = tmp_path / 'val.json'
    ann.write_text(json.dumps(coco))
    classes = tuple(cat['name'] for cat in coco['categories'])
    metric = CocoMetric(ann_file=str(ann), backend='pycocotools',
                        proposal_nums=(1, 2, max_dets))
    metric.dataset_meta = dict(classes=classes)
    metric.compute_metrics(list(results))
    data = da.eval_data_from_coco(metric._coco_api,
                                  [pred for _, pred in results], classes)
    assert data.gt_ignore.any()
    matching = da.match_detections(data, max_dets=max_dets)
    precision = metric.coco_eval.eval['precision'][:, :, :, 0, -1]
    expected = np.where((precision > -1).any(1),
                        np.where(precision > -1, precision, 0).mean(1),
                        np.nan)
    np.testing.assert_allclose(da.class_ap(data, matching), expected,
                               atol=1e-12)
    # AP50 at maxDets[2] (pycocotools' stats[0] is at maxDets=100)
    assert np.nanmean(da.class_ap(data, matching)[0]) == pytest.approx(
        metric.coco_eval.stats[1], abs=1e-12)
