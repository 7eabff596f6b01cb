"""Pascal VOC -> COCO json (fcos_mm.datasets.pascal_voc and its tool)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmdet.datasets import XMLDataset

from fcos_mm.datasets import CocoDataset
from fcos_mm.datasets.pascal_voc import (
    convert_voc_to_coco,
    parse_voc_xml,
    split_stems,
    voc_box_to_coco,
)

HERE = osp.dirname(__file__)
REPO = osp.abspath(osp.join(HERE, '..', '..'))


def _load(name):
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(HERE, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


voc_tiny = _load('voc_tiny')
fx = _load('image_fixtures')

ANNOTATIONS = {
    '000001':
    dict(objects=[
        dict(name='dog', box=(1, 1, 40, 30)),  # the whole 40 x 30 image
        dict(name='cat', box=(5, 6, 15, 20), difficult=1),
    ]),
    '000002':
    dict(objects=[
        dict(name='cat', box=(11, 3, 21, 13), truncated=1),
        dict(name='dog', box=(30, 20, 45, 36)),  # sticks out: clipped
    ]),
    '000003':
    dict(objects=[]),  # an image without objects
}


@pytest.fixture
def voc(tmp_path):
    return voc_tiny.make_voc(
        str(tmp_path / 'VOC'),
        ANNOTATIONS,
        splits=dict(train=['000001', '000002'], val=['000003']))


def _convert(voc, tmp_path, **kwargs):
    return convert_voc_to_coco(
        img_dir=osp.join(voc, 'JPEGImages'),
        ann_dir=osp.join(voc, 'Annotations'),
        out_dir=str(tmp_path / 'out'),
        split_dir=osp.join(voc, 'ImageSets', 'Main'),
        **kwargs)


def _json(path):
    with open(path) as f:
        return json.load(f)


def test_voc_devkit_with_split_files(voc, tmp_path):
    files, summary = _convert(voc, tmp_path)
    assert list(files) == ['train', 'val']
    train = _json(files['train'])
    # Classes from the XML, sorted; ids from 1.
    assert train['categories'] == [
        dict(id=1, name='cat', supercategory='none'),
        dict(id=2, name='dog', supercategory='none')
    ]
    assert train['images'] == [
        dict(id=1, file_name='000001.jpg', width=40, height=30),
        dict(id=2, file_name='000002.jpg', width=40, height=30)
    ]
    # 1-based VOC pixels -> 0-based, mmdet's way: x - 1 on all four.
    boxes = [(a['image_id'], a['category_id'], a['bbox'], a['iscrowd'])
             for a in train['annotations']]
    assert boxes == [
        (1, 2, [0., 0., 39., 29.], 0),
        (1, 1, [4., 5., 10., 14.], 1),  # difficult: ignored
        (2, 1, [10., 2., 10., 10.], 0),
        (2, 2, [29., 19., 11., 11.], 0),  # clipped at 40 x 30
    ]
    assert [a['area'] for a in train['annotations']] == [
        39. * 29., 140., 100., 121.
    ]
    val = _json(files['val'])
    assert val['annotations'] == [] and len(val['images']) == 1
    text = summary.format()
    assert text.startswith('splits from the files in ')
    assert 'train: 2 images, 4 boxes (cat: 2, dog: 2)' in text
    assert 'val: 1 images, 0 boxes (cat: 0, dog: 0)' in text
    assert '  boxes clipped to the image: 1 (e.g. 000002.jpg)' in text
    assert ('  difficult boxes kept as ignored (iscrowd=1): 1 '
            '(e.g. 000001.jpg)') in text
    assert '  truncated boxes (kept as ordinary): 1 (e.g. 000002.jpg)' in text
    assert '  val images without boxes: 1 (e.g. 000003.jpg)' in text


def test_boxes_equal_mmdet_voc_loader(voc, tmp_path):
    files, _ = _convert(voc, tmp_path)
    classes = ('cat', 'dog')
    # Our clipping aside (000002's second box), the COCO boxes are mmdet's
    # XMLDataset boxes, and iscrowd is its ignore_flag.
    theirs = XMLDataset(
        data_root=voc,
        ann_file='ImageSets/Main/train.txt',
        data_prefix=dict(sub_data_root=''),
        metainfo=dict(classes=classes),
        pipeline=[])
    ours = CocoDataset(
        data_root=str(tmp_path / 'out'),
        ann_file='train.json',
        data_prefix=dict(img=osp.join(voc, 'JPEGImages')),
        metainfo=dict(classes=classes),
        pipeline=[])
    for mine, ref in zip(ours.data_list, theirs.data_list):
        assert len(mine['instances']) == len(ref['instances'])
        for a, b in zip(mine['instances'], ref['instances']):
            assert a['bbox_label'] == b['bbox_label']
            assert a['ignore_flag'] == b['ignore_flag']
            x1, y1, x2, y2 = b['bbox']
            expected = [x1, y1, min(x2, 40), min(y2, 30)]
            np.testing.assert_allclose(a['bbox'], expected)


def test_random_split_without_split_files(tmp_path):
    anns = {f'{i:03d}': dict(objects=[dict(name='a', box=(2, 2, 9, 9))])
            for i in range(10)}
    root = voc_tiny.make_voc(str(tmp_path / 'v'), anns)
    ann_dir = osp.join(root, 'Annotations')
    splits = split_stems(ann_dir, osp.join(root, 'nothing'), 0.3, seed=1)
    assert list(splits) == ['train', 'val']
    assert len(splits['val']) == 3 and len(splits['train']) == 7
    assert sorted(splits['train'] + splits['val']) == sorted(anns)
    assert split_stems(ann_dir, None, 0.3, seed=1) == splits
    assert split_stems(ann_dir, None, 0.3, seed=2) != splits
    assert list(split_stems(ann_dir, None, 0.0)) == ['train']
    with pytest.raises(ValueError, match='val_frac'):
        split_stems(ann_dir, None, 1.0)
    with pytest.raises(FileNotFoundError, match='No .xml files'):
        split_stems(str(tmp_path), None)


def test_given_classes_and_difficult_policies(voc, tmp_path):
    files, summary = _convert(voc, tmp_path, classes=['dog'])
    train = _json(files['train'])
    assert train['categories'] == [dict(id=1, name='dog',
                                        supercategory='none')]
    assert [a['category_id'] for a in train['annotations']] == [1, 1]
    assert ("boxes dropped: class 'cat' not in the class list: 2"
            in summary.format())

    files, summary = _convert(voc, tmp_path, difficult='drop')
    assert len(_json(files['train'])['annotations']) == 3
    assert 'difficult boxes dropped: 1 (e.g. 000001.jpg)' in summary.format()

    files, summary = _convert(voc, tmp_path, difficult='keep')
    assert [a['iscrowd'] for a in _json(files['train'])['annotations']
            ] == [0, 0, 0, 0]
    with pytest.raises(ValueError, match='difficult must be one of'):
        _convert(voc, tmp_path, difficult='maybe')


def test_box_conversion_rules():
    assert voc_box_to_coco(('1', '1', '10', '5'), 20, 20) == (
        [0., 0., 9., 4.], '')
    assert voc_box_to_coco(('1.5', '2', '10', '5'), 20, 20) == (
        [0.5, 1., 8.5, 3.], '')
    assert voc_box_to_coco(('0', '1', '10', '5'), 20, 20) == (
        [0., 0., 9., 4.], 'clipped')
    assert voc_box_to_coco(('5', '5', '5', '9'), 20, 20)[1].startswith(
        'dropped: degenerate box')
    assert voc_box_to_coco(('30', '5', '40', '9'), 20,
                           20) == (None, 'dropped: box outside the image')
    assert voc_box_to_coco(('a', '5', '40', '9'), 20, 20) == (
        None, 'dropped: bndbox without four numbers')
    assert voc_box_to_coco((None, ) * 4, 20, 20)[0] is None


def test_sizes_missing_files_and_exif(tmp_path):
    anns = {
        # no <size>: read from the file
        'nosize': dict(size=None, objects=[dict(name='a', box=(2, 2, 9,
                                                                9))]),
        # the file is missing: kept (the check tool names it), size from XML
        'gone': dict(write_image=False, objects=[]),
        # no <size> and no file: cannot be written
        'lost': dict(size=None, write_image=False, objects=[]),
        # <filename> names another extension than the stem's .jpg
        'other': dict(filename=None, objects=[]),
        # a bad bndbox
        'broken': dict(objects=[dict(name='a', box=('x', 1, 5, 5))]),
    }
    root = voc_tiny.make_voc(str(tmp_path / 'v'), anns)
    img_dir = osp.join(root, 'JPEGImages')
    # EXIF-rotated photos: stored 32 x 24, shown 24 x 32. One XML has the
    # unrotated size, one has no size.
    for stem, size in (('phone', (32, 24)), ('phone2', None)):
        fx.write_exif_rotated_jpeg(osp.join(img_dir, f'{stem}.jpg'), 6)
        with open(osp.join(root, 'Annotations', f'{stem}.xml'), 'w') as f:
            f.write(voc_tiny.voc_xml(f'{stem}.jpg', *(size or (None, None)),
                                     []))
    files, summary = convert_voc_to_coco(img_dir, osp.join(root,
                                                           'Annotations'),
                                         str(tmp_path / 'out'),
                                         val_frac=0.0)
    images = {i['file_name']: i for i in _json(files['train'])['images']}
    assert (images['nosize.jpg']['width'],
            images['nosize.jpg']['height']) == (40, 30)
    assert (images['gone.jpg']['width'], images['gone.jpg']['height']) == (40,
                                                                          30)
    assert 'lost.jpg' not in images
    assert (images['phone2.jpg']['width'],
            images['phone2.jpg']['height']) == (24, 32)
    assert (images['phone.jpg']['width'],
            images['phone.jpg']['height']) == (32, 24)
    assert 'other.jpg' in images
    counts = summary.counts
    assert counts['sizes read from the image (no <size>)'] == 2
    assert counts['images left out: no <size> and no readable file'] == 1
    assert counts['image file missing or unreadable (kept; '
                  'tools/misc/check_dataset.py names it)'] == 2
    assert counts['EXIF-rotated photos (loaded rotated, as viewers show '
                  'them)'] == 2
    assert summary.examples[
        'EXIF-rotated photos whose XML <size> is the unrotated one (were the '
        'boxes drawn on unrotated pixels? check them)'] == ['phone.jpg']
    assert counts['boxes dropped: bndbox without four numbers'] == 1
    assert summary.format().startswith(
        'no split files: random split, val_frac 0.0, seed 0\n')


def test_parse_errors_name_the_file(tmp_path):
    path = str(tmp_path / 'bad.xml')
    with open(path, 'w') as f:
        f.write('<annotation><object>')
    with pytest.raises(ValueError, match=f'{path} is not a readable XML'):
        parse_voc_xml(path)
    root = voc_tiny.make_voc(str(tmp_path / 'v'), {'a': dict(objects=[])},
                             splits=dict(train=['a', 'b']))
    with pytest.raises(FileNotFoundError, match='b.xml does not exist'):
        convert_voc_to_coco(
            osp.join(root, 'JPEGImages'), osp.join(root, 'Annotations'),
            str(tmp_path / 'o'), osp.join(root, 'ImageSets', 'Main'))


def test_tool(voc, tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    out = str(tmp_path / 'coco')
    proc = subprocess.run([
        sys.executable, 'tools/dataset_converters/pascal_voc.py', voc, '-o',
        out, '--difficult', 'drop'
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'train: 2 images, 3 boxes (cat: 1, dog: 2)' in proc.stdout
    assert f'wrote {out}/val.json' in proc.stdout
    assert sorted(os.listdir(out)) == ['train.json', 'val.json']


def test_classes_matching_no_object_are_refused(voc, tmp_path):
    with pytest.raises(ValueError) as e:
        _convert(voc, tmp_path, classes=['Dog', 'raccoon'])
    message = str(e.value)
    assert message.startswith(
        "None of the classes ['Dog', 'raccoon'] names an object in the 3 XML "
        f"files of {voc}/Annotations ('Dog': did you mean 'dog'?): every "
        "box would be dropped. The objects there, with their counts: 'cat' "
        "(2), 'dog' (2). Fix: --classes cat dog")
    # Nothing written: no json with 0 boxes for a later run to read.
    assert not osp.exists(tmp_path / 'out')
    # One of them matching: converted, the other said in the summary.
    files, summary = _convert(voc, tmp_path, classes=['dog', 'raccoon'])
    assert ("classes with no object in the XML files (no box will be "
            "written for them): 1 (e.g. 'raccoon')") in summary.format()


def test_folders_outside_the_voc_layout(voc, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        convert_voc_to_coco(
            img_dir=osp.join(voc, 'JPEGImages'),
            ann_dir=osp.join(voc, 'annotations'),
            out_dir=str(tmp_path / 'out'))
    assert str(e.value).startswith(
        f'The annotations folder {voc}/annotations does not exist. Expected '
        'the Pascal VOC layout: ROOT/Annotations/*.xml')
    assert '--ann-dir and --img-dir' in str(e.value)
    assert not osp.exists(tmp_path / 'out')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='images folder'):
        convert_voc_to_coco(str(tmp_path / 'nope'), str(empty),
                            str(tmp_path / 'out'))


def test_tool_errors_without_traceback(voc, tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    out = str(tmp_path / 'coco')
    photos = tmp_path / 'photos'  # a folder of photos, no VOC layout
    photos.mkdir()
    errors = []
    for args in ([voc, '-o', out, '--classes', 'Dog'],
                 [str(photos), '-o', out]):
        proc = subprocess.run(
            [sys.executable, 'tools/dataset_converters/pascal_voc.py', *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1
        assert 'Traceback' not in proc.stderr
        assert not osp.exists(out)
        errors.append(proc.stderr)
    assert errors[0].startswith("pascal_voc.py: None of the classes ['Dog']")
    assert "did you mean 'dog'?" in errors[0]
    assert errors[1].startswith(
        f'pascal_voc.py: The annotations folder {photos}/Annotations does '
        'not exist. Expected the Pascal VOC layout')
