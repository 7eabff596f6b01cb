"""Classes and counts before the first step
(fcos_mm.datasets.class_check.class_problems): the config's classes
against each annotation file and the head, on tiny jsons."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from fcos_mm.datasets.check_dataset import run_check
from fcos_mm.datasets.class_check import (
    DataCheckError,
    check_before_first_step,
    class_problems,
    closest_name,
)


def _write(path, categories=('raccoon', ), boxes=None, images=None):
    """A json of two 64x48 images, one box each of the first category."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    images = images if images is not None else [
        dict(id=i, file_name=f'{i}.jpg', width=64, height=48)
        for i in (1, 2)
    ]
    boxes = boxes if boxes is not None else [
        dict(id=i, image_id=i, category_id=1, bbox=[4, 4, 20, 16], area=320,
             iscrowd=0) for i in (1, 2)
    ]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=boxes,
                       categories=[dict(id=i, name=n) for i, n in
                                   enumerate(categories, 1)]), f)
    return path


def _cfg(root, classes=('raccoon', ), num_classes=1, val_classes=None,
         evaluator_ann=None, **train_kwargs):
    def dataset(ann, names):
        return dict(type='CocoDataset', data_root=root, ann_file=ann,
                    data_prefix=dict(img='images/'),
                    metainfo=dict(classes=names), pipeline=[])

    train = dataset('train.json', classes)
    train.update(train_kwargs)
    val = dataset('val.json', val_classes or classes)
    return Config(dict(
        model=dict(type='FCOS', bbox_head=dict(type='FCOSHead',
                                               num_classes=num_classes)),
        train_dataloader=dict(dataset=train),
        val_dataloader=dict(dataset=val),
        test_dataloader=dict(dataset=val),
        val_evaluator=dict(type='CocoMetric',
                           ann_file=evaluator_ann or osp.join(root,
                                                              'val.json')),
        test_evaluator=dict(type='CocoMetric',
                            ann_file=evaluator_ann or osp.join(root,
                                                               'val.json'))))


@pytest.fixture
def root(tmp_path):
    """train.json and val.json, one category 'raccoon'."""
    root = str(tmp_path) + '/'
    _write(root + 'train.json')
    _write(root + 'val.json')
    return root


def _errors(problems):
    return [p for p in problems if p.severity == 'error']


def test_matching_config_has_no_problem(root):
    assert class_problems(_cfg(root)) == []
    check_before_first_step(_cfg(root), ['train', 'val'])


def test_closest_name_case_first():
    assert closest_name('Raccoon', ['raccoon', 'dog']) == 'raccoon'
    assert closest_name('racoon', ['raccoon', 'dog']) == 'raccoon'
    assert closest_name('giraffe', ['raccoon', 'dog']) is None


def test_case_typo_names_file_key_closest_name_and_fix(root):
    problems = class_problems(_cfg(root, classes=('Raccoon', )), ['train'])
    assert len(_errors(problems)) == len(problems) == 2
    error = problems[0]
    assert error.key == 'train_dataloader.dataset.metainfo.classes'
    assert error.message.startswith(
        f"{root}train.json (train data set) has no category named "
        f"'Raccoon' ('Raccoon': did you mean 'raccoon'?; its categories: "
        f"'raccoon')")
    assert ('Fix: --cfg-options "train_dataloader.dataset.metainfo.classes='
            '(raccoon,)", or in a child config metainfo = dict(classes=('
            "'raccoon', ))") in error.message
    # No box of the class would be selected: the same file, as an error.
    assert [p.key for p in problems] == [
        'train_dataloader.dataset.metainfo.classes',
        'train_dataloader.dataset.ann_file'
    ]
    assert "no usable box of the classes ('Raccoon', )" in problems[
        1].message
    with pytest.raises(DataCheckError) as e:
        check_before_first_step(_cfg(root, classes=('Raccoon', )), ['train'])
    assert "did you mean 'raccoon'?" in str(e.value)
    assert f'{root}train.json' in str(e.value)


def test_unrelated_name_lists_the_categories(root):
    (error, *_) = class_problems(_cfg(root, classes=('dog', )), ['train'])
    assert error.severity == 'error'
    assert ("has no category named 'dog' (its categories: 'raccoon'): no "
            'box would be selected') in error.message
    # The fix offers the json's names.
    assert 'metainfo.classes=(raccoon,)' in error.message


def test_class_count_against_the_head_both_ways(root):
    # Two classes (one the json lacks: a warning for training) and a
    # one-class head.
    problems = class_problems(_cfg(root, classes=('raccoon', 'dog')),
                              ['train'])
    assert [(p.severity, p.key) for p in problems] == [
        ('error', 'model.bbox_head.num_classes'),
        ('warning', 'train_dataloader.dataset.metainfo.classes')
    ]
    assert problems[0].message.startswith(
        "model.bbox_head.num_classes is 1 but train_dataloader.dataset."
        "metainfo.classes names 2 class(es) ('raccoon', 'dog')")
    assert '--cfg-options model.bbox_head.num_classes=2' in problems[
        0].message
    assert "no category named 'dog'" in problems[1].message
    # 80 outputs on one-class data.
    (error, ) = class_problems(_cfg(root, num_classes=80), ['train'])
    assert error.message.startswith(
        'model.bbox_head.num_classes is 80 but train_dataloader.dataset.'
        "metainfo.classes names 1 class(es) ('raccoon', )")


def test_val_classes_other_than_train_are_an_error(root):
    _write(root + 'val.json', categories=('raccoon', 'dog', 'cat'))
    cfg = _cfg(root, val_classes=('raccoon', 'dog', 'cat'))
    problems = class_problems(cfg, ['train', 'val'])
    keys = [p.key for p in _errors(problems)]
    # The head has 1 output, val names 3; and they differ from train's.
    assert keys == ['model.bbox_head.num_classes',
                    'val_dataloader.dataset.metainfo.classes']
    assert ("val_dataloader.dataset.metainfo.classes is ('raccoon', 'dog', "
            "'cat'), but the model is trained on train_dataloader.dataset."
            "metainfo.classes = ('raccoon', )") in problems[1].message


def test_evaluator_json_without_the_class(root):
    other = _write(root + 'other.json', categories=('Racoon', ))
    (error, ) = class_problems(_cfg(root, evaluator_ann=other), ['val'])
    assert error.message.startswith(
        f"{other} (val evaluator, val_evaluator.ann_file) has no category "
        f"named 'raccoon' ('raccoon': did you mean 'Racoon'?")
    assert "mmdet's CocoMetric would fail on" in error.message
    assert ('Fix: point val_evaluator.ann_file at the json of the val data '
            'set, or correct the classes') in error.message


def test_val_class_missing_from_its_json_is_an_error(root):
    _write(root + 'train.json', categories=('raccoon', 'dog'))
    problems = class_problems(
        _cfg(root, classes=('raccoon', 'dog'), num_classes=2),
        ['train', 'val'])
    (error, ) = _errors(problems)
    assert error.key == 'val_dataloader.dataset.metainfo.classes'
    assert f"{root}val.json (val data set) has no category named 'dog'" in (
        error.message)


def test_no_usable_box_names_the_file(root):
    crowd_and_tiny = [
        dict(id=1, image_id=1, category_id=1, bbox=[4, 4, 20, 16], area=320,
             iscrowd=1),
        dict(id=2, image_id=2, category_id=1, bbox=[4, 4, 0.5, 16], area=8,
             iscrowd=0),
        dict(id=3, image_id=2, category_id=1, bbox=[70, 4, 5, 5], area=25,
             iscrowd=0),  # outside the 64 px wide image
    ]
    _write(root + 'train.json', boxes=crowd_and_tiny)
    (error, ) = class_problems(_cfg(root), ['train'])
    assert error.key == 'train_dataloader.dataset.ann_file'
    assert error.message.startswith(
        f"{root}train.json (train data set) has no usable box of the "
        f"classes ('raccoon', ) among its 3 annotations")


def test_no_images_and_image_info_files(root):
    _write(root + 'val.json', images=[], boxes=[])
    (error, ) = class_problems(_cfg(root), ['test'])
    assert error.key == 'test_dataloader.dataset.ann_file'
    assert error.message == f'{root}val.json (test data set) lists no images.'
    # An image-info file (no "annotations" at all, e.g. test-dev) is fine.
    with open(root + 'val.json', 'w') as f:
        json.dump(dict(images=[dict(id=1, file_name='1.jpg', width=9,
                                    height=9)],
                       categories=[dict(id=1, name='raccoon')]), f)
    assert class_problems(_cfg(root), ['test']) == []


def test_filter_keeping_no_image(root):
    cfg = _cfg(root, filter_cfg=dict(filter_empty_gt=True, min_size=50))
    (error, ) = class_problems(cfg, ['train'])
    assert error.key == 'train_dataloader.dataset.filter_cfg'
    assert 'keeps none of its 2 images' in error.message
    assert ('--cfg-options train_dataloader.dataset.filter_cfg.min_size=0'
            in error.message)


def test_classes_as_a_string_and_in_another_order(root):
    (error, ) = class_problems(_cfg(root, classes='raccoon'), ['train'])
    assert error.message.startswith(
        "classes is the string 'raccoon', not a tuple of names: write "
        "classes=('raccoon', )")
    _write(root + 'train.json', categories=('dog', 'raccoon'))
    (error, ) = class_problems(
        _cfg(root, classes=('raccoon', 'dog'), num_classes=2), ['train'])
    assert "in the order ['dog', 'raccoon'], the config in the order " \
        "['raccoon', 'dog']" in error.message


def test_default_classes_of_the_dataset_type(root):
    # No metainfo: mmdet's CocoDataset's 80 COCO names, none in the json.
    cfg = _cfg(root)
    cfg.train_dataloader.dataset.pop('metainfo')
    (error, *_) = class_problems(cfg, ['train'])
    assert "has no category named 'person'" in error.message


def test_the_tool_reports_them_first(root):
    reports, text = run_check(
        _cfg(root, classes=('Raccoon', )), ['train'], progress=False)
    lines = text.splitlines()
    assert lines[0] == ('classes and counts (the config against its '
                        'annotation files):')
    assert lines[1].startswith('  ERROR   train_dataloader.dataset.metainfo.'
                               f'classes: {root}train.json')
    assert reports[0].count('error') == 2
    # The images (not written here) are missing too.
    assert lines[-1].startswith('Checked 1 data set(s), 2 images')
    assert '5 error(s)' in lines[-1]


def test_a_train_typo_is_not_copied_to_val(root):
    problems = class_problems(_cfg(root, classes=('Raccoon', ),
                                   val_classes=('raccoon', )),
                              ['train', 'val'])
    # The typo and its empty data set; val is not told to copy 'Raccoon'.
    assert [p.key for p in problems] == [
        'train_dataloader.dataset.metainfo.classes',
        'train_dataloader.dataset.ann_file'
    ]


def test_one_count_error_for_splits_sharing_the_classes(root):
    problems = class_problems(_cfg(root, num_classes=80))
    assert [p.key for p in problems] == ['model.bbox_head.num_classes']
