import math
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from mmdet.datasets import CocoDataset as MMDetCocoDataset
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs

from fcos_mm.datasets import CocoDataset, LoadImageFromFile
from fcos_mm.datasets.coco import SKIPPED_IMAGES_KEY
from fcos_mm.registry import DATASETS

IMG = dict(id=7, file_name='a.jpg', width=100, height=80)


def _ann(ann_id, bbox, category_id=1, image_id=7):
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=bbox[2] * bbox[3],
        iscrowd=0)


def _dataset(ann_file, **kwargs):
    return CocoDataset(
        ann_file=ann_file,
        data_prefix=dict(img=''),
        pipeline=[],
        lazy_init=False,
        **kwargs)


def test_registered_under_mmdet_name():
    # Configs saying type='CocoDataset' in scope fcos_mm get ours.
    assert DATASETS.get('CocoDataset') is CocoDataset
    assert DATASETS.get('mmdet.CocoDataset') is MMDetCocoDataset


def test_clean_file_parses_as_mmdet_without_warnings(coco_tiny_root):
    ann_file = coco_tiny_root['train_ann']
    kwargs = dict(
        ann_file=ann_file, data_prefix=dict(img='train2017/'), pipeline=[])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ours = CocoDataset(data_root=coco_tiny_root['root'], **kwargs)
    theirs = MMDetCocoDataset(data_root=coco_tiny_root['root'], **kwargs)
    assert len(ours) == len(theirs) == 2
    for i in range(2):
        assert ours.get_data_info(i) == theirs.get_data_info(i)


def test_unknown_category_names_file_annotation_and_category(
        tmp_path, coco_helper):
    ann_file = coco_helper.write_json(
        str(tmp_path / 'bad.json'), [IMG],
        [_ann(1, [1, 1, 10, 10]),
         _ann(42, [1, 1, 10, 10], category_id=99)])
    with pytest.raises(ValueError) as e:
        _dataset(ann_file)
    msg = str(e.value)
    assert ann_file in msg
    assert 'annotation 42' in msg
    assert 'category_id 99' in msg


def test_category_outside_selected_classes_is_skipped_silently(
        tmp_path, coco_helper):
    # 'car' is defined in the file but not selected: selection, not error.
    ann_file = coco_helper.write_json(
        str(tmp_path / 'a.json'), [IMG],
        [_ann(1, [1, 1, 10, 10]),
         _ann(2, [5, 5, 20, 20], category_id=3)])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ds = _dataset(ann_file, metainfo=dict(classes=('person', )))
    instances = ds.get_data_info(0)['instances']
    assert [i['bbox'] for i in instances] == [[1, 1, 11, 11]]
    assert [i['bbox_label'] for i in instances] == [0]


def test_unknown_image_id(tmp_path, coco_helper):
    ann_file = coco_helper.write_json(
        str(tmp_path / 'bad.json'), [IMG],
        [_ann(5, [1, 1, 10, 10], image_id=8)])
    with pytest.raises(ValueError, match=r'annotation 5 has image_id 8'):
        _dataset(ann_file)


@pytest.mark.parametrize('bbox', [[1, 2, 3], [1, 2, math.nan, 4],
                                  [1, 'x', 3, 4]])
def test_malformed_box(tmp_path, coco_helper, bbox):
    ann = dict(_ann(3, [1, 1, 1, 1]), bbox=bbox, area=1)
    ann_file = coco_helper.write_json(str(tmp_path / 'bad.json'), [IMG], [ann])
    with pytest.raises(ValueError) as e:
        _dataset(ann_file)
    assert ann_file in str(e.value) and 'annotation 3 has bbox' in str(e.value)


def test_duplicate_annotation_id(tmp_path, coco_helper):
    ann_file = coco_helper.write_json(
        str(tmp_path / 'bad.json'), [IMG],
        [_ann(4, [1, 1, 10, 10]), _ann(4, [2, 2, 10, 10])])
    with pytest.raises(ValueError, match='annotation id 4 is used more'):
        _dataset(ann_file)


def test_box_partly_outside_is_clipped_with_one_warning(tmp_path, coco_helper):
    # image 100 x 80; boxes sticking out left/top and right/bottom.
    ann_file = coco_helper.write_json(
        str(tmp_path / 'a.json'), [IMG],
        [_ann(10, [-5, -4, 20, 14]),
         _ann(11, [90, 70, 30, 25]),
         _ann(12, [10, 10, 5, 5])])
    with pytest.warns(UserWarning) as record:
        ds = _dataset(ann_file)
    msgs = [str(r.message) for r in record]
    assert len(msgs) == 1
    assert ann_file in msgs[0]
    assert '2 annotation(s)' in msgs[0] and 'clipped' in msgs[0]
    assert 'first: annotation 10' in msgs[0]
    boxes = [i['bbox'] for i in ds.get_data_info(0)['instances']]
    assert boxes == [[0, 0, 15, 10], [90, 70, 100, 80], [10, 10, 15, 15]]


def test_box_entirely_outside_is_skipped_with_warning(tmp_path, coco_helper):
    ann_file = coco_helper.write_json(
        str(tmp_path / 'a.json'), [IMG],
        [_ann(20, [120, 10, 10, 10]),
         _ann(21, [10, 10, 5, 5])])
    with pytest.warns(UserWarning, match=r'1 annotation\(s\).*entirely '
                      r'outside.*skipped.*first: annotation 20'):
        ds = _dataset(ann_file)
    boxes = [i['bbox'] for i in ds.get_data_info(0)['instances']]
    assert boxes == [[10, 10, 15, 15]]


def test_missing_area_is_computed(tmp_path, coco_helper):
    ann = _ann(30, [10, 10, 5, 4])
    del ann['area']
    ann_file = coco_helper.write_json(str(tmp_path / 'a.json'), [IMG], [ann])
    ds = _dataset(ann_file)
    assert [i['bbox'] for i in ds.get_data_info(0)['instances']] == [[
        10, 10, 15, 14
    ]]


def test_image_info_file_without_annotations(tmp_path):
    import json
    path = str(tmp_path / 'info.json')
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=[IMG],
                categories=[dict(id=1, name='person', supercategory='x')]),
            f)
    ds = _dataset(path, test_mode=True)
    assert ds.get_data_info(0)['instances'] == []
    assert osp.basename(ds.get_data_info(0)['img_path']) == 'a.jpg'


def test_classes_out_of_the_jsons_order_are_refused(tmp_path, coco_helper):
    # labels follow the json (person -> 0, car -> 1): ('car', 'person')
    # would call every person a car.
    ann_file = coco_helper.write_json(
        str(tmp_path / 'a.json'), [IMG], [_ann(1, [1, 1, 10, 10])])
    with pytest.raises(ValueError, match=r"order, \['person', 'car'\], not "
                       r"\['car', 'person'\]"):
        _dataset(ann_file, metainfo=dict(classes=('car', 'person')))
    ds = _dataset(ann_file, metainfo=dict(classes=('person', 'car')))
    assert ds.get_data_info(0)['instances'][0]['bbox_label'] == 0


# The bad-image policy through the dataset (LoadImageFromFile(on_bad_image))

def _bad_image_dataset(coco_tiny_root, test_mode):
    """The tiny train split with its first image deleted, loaded with
    on_bad_image='skip'."""
    os.remove(osp.join(coco_tiny_root['root'], 'train2017', '000001.jpg'))
    return CocoDataset(
        data_root=coco_tiny_root['root'],
        ann_file=coco_tiny_root['train_ann'],
        data_prefix=dict(img='train2017/'),
        test_mode=test_mode,
        pipeline=[
            LoadImageFromFile(on_bad_image='skip'),
            LoadAnnotations(with_bbox=True),
            PackDetInputs()
        ])


def test_skipped_image_is_replaced_and_attached_to_the_sample(
        coco_tiny_root):
    dataset = _bad_image_dataset(coco_tiny_root, test_mode=False)
    np.random.seed(0)
    with pytest.warns(UserWarning, match='Cannot find image file'):
        data = dataset[0]
    # Another image came in its place, carrying the record of the skip.
    assert data['data_samples'].img_id == 2
    records = data['data_samples'].metainfo[SKIPPED_IMAGES_KEY]
    assert {r['img_path'] for r in records} == {
        osp.join(coco_tiny_root['root'], 'train2017', '000001.jpg')
    }
    assert all(r['img_id'] == 1 for r in records)
    assert all(r['reason'].startswith('Cannot find image file')
               for r in records)
    # A good image carries nothing.
    assert SKIPPED_IMAGES_KEY not in dataset[1]['data_samples'].metainfo


def test_skipped_image_in_test_mode_is_an_error(coco_tiny_root):
    dataset = _bad_image_dataset(coco_tiny_root, test_mode=True)
    with pytest.warns(UserWarning), pytest.raises(ValueError) as e:
        dataset[0]
    message = str(e.value)
    assert 'in test mode, where every image needs a result' in message
    assert 'train2017/000001.jpg' in message
    assert 'Cannot find image file' in message
    assert dataset[1]['data_samples'].img_id == 2
