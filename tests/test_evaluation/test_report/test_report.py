"""The evaluation report: its data, its files and the tool, on the
hand-built set of test_functional/test_matching.py (numbers worked out
there)."""
import csv
import importlib.util
import json
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch

from fcos_mm.analysis.fcos_report_section import FCOSDiagnosticsSection
from fcos_mm.evaluation.report import (
    Section,
    build_report,
    default_sections,
    render_html,
    write_report,
)
from fcos_mm.evaluation.report.html import plural

TESTS = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'hand_set', osp.join(TESTS, 'test_evaluation', 'test_functional',
                         'test_matching.py'))
_hand_set = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_hand_set)
AP_CAT, AP_DOG = _hand_set.AP_CAT, _hand_set.AP_DOG
CLASSES, DETS, GTS = _hand_set.CLASSES, _hand_set.DETS, _hand_set.GTS
hand_data = _hand_set.hand_data
REPO = osp.dirname(TESTS)


def test_report_sections_agree(tmp_path):
    data = hand_data()
    report = build_report(data, num_gallery=3)
    assert report['summary']['map'] == pytest.approx((AP_CAT + AP_DOG) / 2)
    cat, dog, bird = report['classes']
    assert cat['ap50'] == pytest.approx(AP_CAT)
    assert (cat['gts'], cat['images'], cat['dets']) == (3, 3, 5)
    assert bird['ap'] is None and bird['gts'] == 0
    # the confusion matrix is drawn at the best-F1 threshold (.9)
    assert report['thresholds']['confusion']['score'] == pytest.approx(0.9)
    # score >= .9: d6 (dog), d0 (cat) found; g1, g3, g4 missed
    assert report['confusion']['counts'] == [
        [1, 0, 0, 2], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert report['tide']['counts']['bkg'] == 2
    # cat against the score: at .6, d0 (TP), d1, d2 -> P 1/3, R 1/3
    cat_curves = report['class_score_curves'][0]
    assert cat_curves['precision'][60] == pytest.approx(1 / 3, abs=1e-4)
    assert cat_curves['recall'][60] == pytest.approx(1 / 3, abs=1e-4)
    gal = report['galleries']
    # worst images: 0 and 1 at AP .5 (0 has no FP above .9), then 3
    assert [item['image'] for item in gal['worst']] == [0, 1, 3]
    # the false positives shown are those at the stated threshold: above
    # .9 there is none (the duplicate at .8 is below)
    assert gal['false_positives'] == [] and gal['num_false_positives'] == 0
    # missed: the confusion matrix's background column (2 + 1 boxes),
    # largest first; TIDE's "missed" (no detection at any score) is g3 only
    assert gal['num_missed'] == 3
    assert [item['box'] for item in gal['missed']] == [
        [0, 0, 20, 20], [20, 0, 30, 10], [50, 50, 60, 60]]
    assert report['tide']['counts']['missed'] == 1
    # above the top score (.95) precision is undefined, not 1
    assert report['score_curves']['precision'][-1] is None
    assert report['score_curves']['recall'][-1] == 0
    paths = write_report(report, str(tmp_path), data)
    page = open(paths['html']).read()
    for anchor in ('summary', 'classes', 'curves', 'confusion', 'errors',
                   'galleries'):
        assert f'id="{anchor}"' in page
    assert 'http://' not in page.replace('http://www.w3.org/2000/svg', '')
    assert 'image not found' in page  # no image files here
    assert '4 images, 5 boxes' in page
    assert 'Boxes no detection with score &ge; 0.900 matches' in page
    assert '3 in all, all shown' in page
    assert json.load(open(paths['json']))['summary']['images'] == 4
    with open(osp.join(str(tmp_path), 'confusion_counts.csv')) as file:
        rows = list(csv.reader(file))
    assert rows[0] == ['true \\ predicted', 'cat', 'dog', 'bird',
                       'background']
    assert rows[1] == ['cat', '1', '0', '0', '2']
    names = sorted(osp.basename(path) for path in paths['csv'])
    assert names == ['classes.csv', 'confusion_counts.csv',
                     'confusion_normalized.csv', 'images.csv', 'tide.csv']


def test_false_positive_gallery_at_the_stated_threshold(tmp_path):
    data = hand_data()
    # a background detection at .92 in image 2: best F1 stays at .9 (.95
    # TP, .92 FP, .90 TP: P 2/3, R 2/5, F1 .5; at .5: 3 of 8, F1 .46)
    data.det_image = np.r_[data.det_image, 2]
    data.det_boxes = np.vstack([data.det_boxes, [[50, 50, 60, 60]]])
    data.det_scores = np.r_[data.det_scores, 0.92]
    data.det_labels = np.r_[data.det_labels, 1]
    report = build_report(data)
    assert report['thresholds']['confusion']['score'] == pytest.approx(0.9)
    gal = report['galleries']
    assert gal['num_false_positives'] == 1
    (item, ) = gal['false_positives']
    assert (item['score'], item['note'], item['image']) == (
        0.92, 'background', 2)
    page = render_html(report, data, default_sections())
    fp_part = page[page.index('<h3>Highest-scoring false positives'):
                   page.index('<h3>Missed boxes')]
    assert 'Detections with score &ge; 0.900' in fp_part
    # drawn at the threshold: image 2's .30 detection is not drawn
    assert '<title>cat 0.30</title>' not in fp_part
    assert '<title>dog 0.92</title>' in fp_part


def test_plural():
    assert [plural(1, 'class'), plural(3, 'class'), plural(1, 'box'),
            plural(0, 'box'), plural(2, 'image')] == [
        '1 class', '3 classes', '1 box', '0 boxes', '2 images']


def test_compare_and_training(tmp_path):
    data = hand_data()
    better = hand_data()
    better.det_labels[2] = 1  # d2: the dog it overlapped
    report = build_report(better, compare=data,
                          training=dict(losses={'loss': ([1, 2], [2.0, 1.0])},
                                        metrics={}))
    compare = report['compare']
    assert compare['other_map'] == pytest.approx((AP_CAT + AP_DOG) / 2)
    dog = compare['classes'][1]
    assert dog['change'] > 0
    # image 0: cat AP 1 both times; dog 0 -> 1: AP50 .5 -> 1, fixed
    assert [item['image'] for item in compare['fixed']] == [0]
    assert compare['num_broken'] == 0
    assert report['training']['losses']['loss'] == [[1.0, 2.0], [2.0, 1.0]]
    page = render_html(report, better, default_sections())
    assert 'id="compare"' in page and 'id="training"' in page
    training = page[page.index('id="training"'):page.index('id="compare"')]
    # the y axis says "loss", the title names the series (no legend text
    # over the line)
    assert '>losses: loss</text>' in training and '>loss</text>' in training
    assert 'fill="#1f77b4">loss</text>' not in training
    other = hand_data()
    other.img_ids = other.img_ids + 10
    with pytest.raises(ValueError, match='different images'):
        build_report(data, compare=other)


def write_fixture(tmp_path):
    """The hand set as files: COCO json, two of the four images, a config
    and DumpDetResults' pickle (input = original size x 2)."""
    ann = dict(
        images=[dict(id=i + 1, width=100, height=100,
                     file_name=f'{i + 1}.jpg') for i in range(4)],
        annotations=[dict(id=k + 1, image_id=img + 1, category_id=lab + 1,
                          iscrowd=0,
                          bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                          area=(b[2] - b[0]) * (b[3] - b[1]))
                     for k, (img, b, lab) in enumerate(GTS)],
        categories=[dict(id=k + 1, name=name)
                    for k, name in enumerate(CLASSES)])
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    for img_id in (1, 2):
        cv2.imwrite(str(tmp_path / f'{img_id}.jpg'),
                    np.full((100, 100, 3), 90 * img_id, np.uint8))
    config = tmp_path / 'cfg.py'
    config.write_text(
        'model = dict(bbox_head=dict(strides=[8, 16, 32]),\n'
        '    data_preprocessor=dict(pad_size_divisor=32),\n'
        '    train_cfg=dict(assigner=dict(type="FCOSPointAssigner",\n'
        '        regress_ranges=((-1, 32), (32, 64), (64, 1e8)))))\n'
        'test_dataloader = dict(dataset=dict(type="CocoDataset",\n'
        f'    metainfo=dict(classes={tuple(CLASSES)!r})))\n'
        f'test_evaluator = dict(type="CocoMetric", '
        f'ann_file={str(tmp_path / "ann.json")!r})\n')
    results = []
    for img in range(4):
        dets = [d for d in DETS if d[0] == img]
        results.append(dict(
            img_id=img + 1, img_path=str(tmp_path / f'{img + 1}.jpg'),
            ori_shape=(100, 100), img_shape=(200, 200),
            scale_factor=(2.0, 2.0),
            pred_instances=dict(
                bboxes=torch.tensor([d[1] for d in dets],
                                    dtype=torch.float32).reshape(-1, 4),
                scores=torch.tensor([d[2] for d in dets]),
                labels=torch.tensor([d[3] for d in dets]))))
    with open(tmp_path / 'results.pkl', 'wb') as file:
        pickle.dump(results, file)
    return str(config), str(tmp_path / 'results.pkl')


def test_tool_on_results_pickle(tmp_path, capsys):
    config, results = write_fixture(tmp_path)
    log = tmp_path / 'scalars.json'
    log.write_text('{"loss": 2.0, "step": 1, "iter": 1, "lr": 0.01}\n'
                   '{"loss": 1.5, "step": 2, "iter": 2, "lr": 0.01}\n')
    spec = importlib.util.spec_from_file_location(
        'eval_report_tool',
        osp.join(REPO, 'tools', 'analysis_tools', 'eval_report.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'report')
    html_path = tool.main([config, results, '--out', out, '--compare',
                           results, '--log', str(log), '--backend',
                           'pycocotools', '--num-gallery', '2'])
    assert html_path == osp.join(out, 'report.html')
    assert 'report: ' in capsys.readouterr().out
    report = json.load(open(osp.join(out, 'report.json')))
    # the COCO evaluator's AP is the matching pass's mAP
    assert report['coco']['values'][0] == pytest.approx(
        (AP_CAT + AP_DOG) / 2)
    assert report['summary']['map'] == pytest.approx(
        report['coco']['values'][0])
    assert report['meta']['backend'] == 'pycocotools'
    assert report['meta']['predictions'] == results
    assert report['compare']['num_fixed'] == 0
    assert 'loss' in report['training']['losses']
    # FCOS: boxes x2 in the input; all five get a level here
    levels = {row['level']: row['boxes'] for row in report['fcos']['levels']}
    assert sum(levels.values()) == 5 and levels['none'] == 0
    page = open(html_path).read()
    # the comparison names what it compared with
    assert report['meta']['compare'] == results
    assert f'Compared with <code>{results}</code>' in page
    # all boxes are small: pycocotools' -1 for medium / large is shown as
    # the other tables show a missing value
    assert report['coco']['values'][4] == -1
    assert '-1.000' not in page
    assert 'data:image/jpeg;base64,' in page  # the two images found
    assert 'id="fcos"' in page
    assert osp.exists(osp.join(out, 'fcos_levels.csv'))


class ImagesSection(Section):
    """A section added by the caller: one class, nothing else."""
    key = 'answer'
    title = 'Answer'

    def build(self, ctx):
        return dict(answer=dict(images=ctx.data.num_images))

    def tables(self, report):
        return [('answer.csv', ['images'], [[report['answer']['images']]])]

    def html(self, report, page):
        return f'<h2 id="answer">{report["answer"]["images"]} images</h2>'


def test_a_section_is_one_class(tmp_path):
    data = hand_data()
    sections = default_sections([ImagesSection()])
    report = build_report(data, sections=sections)
    assert report['answer'] == dict(images=4)
    # after the galleries, before the run's own sections
    keys = [key for key in report if key in ('galleries', 'answer')]
    assert keys == ['galleries', 'answer']
    paths = write_report(report, str(tmp_path), data, sections=sections)
    page = open(paths['html']).read()
    assert '<a href="#answer">Answer</a>' in page
    assert '<h2 id="answer">4 images</h2>' in page
    assert osp.join(str(tmp_path), 'answer.csv') in paths['csv']


def test_report_reads_the_evaluation_that_ran(tmp_path, monkeypatch):
    """tools/test.py --report: the CocoMetric the test ran is read, not
    run again; the report is the same as one that evaluates itself."""
    from mmengine.config import Config

    from fcos_mm.evaluation import CocoMetric
    from fcos_mm.evaluation.metrics.coco_metric import evaluator_class
    from fcos_mm.evaluation.report import (
        evaluated_metric,
        predictions_from_results,
        report_from_predictions,
    )
    config, results = write_fixture(tmp_path)
    cfg = Config.fromfile(config)
    with open(results, 'rb') as file:
        predictions = predictions_from_results(pickle.load(file))
    evaluations = []
    evaluator = evaluator_class('pycocotools')
    evaluate = evaluator.evaluate
    monkeypatch.setattr(evaluator, 'evaluate', lambda self: (
        evaluations.append(1), evaluate(self))[1])
    # the test's metric, as the runner's evaluator runs it
    metric = CocoMetric(ann_file=str(tmp_path / 'ann.json'),
                        backend='pycocotools')
    metric.dataset_meta = dict(classes=tuple(CLASSES))
    metric.compute_metrics([(dict(img_id=pred['img_id']), pred)
                            for pred in predictions])
    assert len(evaluations) == 1
    sections = [FCOSDiagnosticsSection.from_config(cfg)]
    assert evaluated_metric([object(), metric]) is metric
    read = report_from_predictions(
        cfg, predictions, str(tmp_path / 'read'),
        coco_metric=evaluated_metric([metric]), extra_sections=sections)
    assert len(evaluations) == 1  # not evaluated again
    alone = report_from_predictions(cfg, predictions,
                                    str(tmp_path / 'alone'),
                                    backend='pycocotools',
                                    extra_sections=sections)
    assert len(evaluations) == 2
    for report in (read['report'], alone['report']):
        for key in ('created', 'eval_seconds', 'analysis_seconds'):
            report['meta'].pop(key)
    assert read['report'] == alone['report']
    for name in map(osp.basename, read['csv']):
        assert (open(tmp_path / 'read' / name).read() ==
                open(tmp_path / 'alone' / name).read())
