"""The data check (fcos_mm.datasets.check_dataset, tools/misc/check_dataset.py)
on data sets with every kind of problem."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from fcos_mm.datasets.check_dataset import (
    check_dataset,
    check_datasets,
    dataset_sources,
    format_reports,
    run_check,
)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'image_fixtures',
    osp.join(REPO, 'tests', 'test_datasets', 'image_fixtures.py'))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def _write_json(path, images, annotations, categories=((1, 'thing'), )):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=annotations,
                categories=[dict(id=i, name=n) for i, n in categories]), f)
    return path


def _box(ann_id, img_id, bbox, **kw):
    return dict(id=ann_id, image_id=img_id, category_id=1, bbox=bbox,
                area=1, iscrowd=0, **kw)


def _config(root, ann='annotations/train.json', val=None):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]
    cfg = dict(
        train_dataloader=dict(
            dataset=dict(
                type='CocoDataset',
                data_root=root,
                ann_file=ann,
                data_prefix=dict(img='images/'),
                metainfo=dict(classes=('thing', )),
                pipeline=pipeline)))
    if val is not None:
        cfg['val_dataloader'] = dict(dataset=val)
        cfg['test_dataloader'] = dict(dataset=val)
    return Config(cfg)


@pytest.fixture
def three_bad_files(tmp_path):
    """The issue's data set: one truncated-but-readable JPEG, one
    unreadable file, one missing file, beside two good images."""
    root = str(tmp_path / 'data')
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir)
    fx.write_jpeg(osp.join(img_dir, 'good1.jpg'))
    fx.write_jpeg(osp.join(img_dir, 'good2.jpg'))
    fx.write_truncated_jpeg(osp.join(img_dir, 'cut.jpg'))
    fx.write_unreadable(osp.join(img_dir, 'bad.jpg'))
    names = ['good1.jpg', 'cut.jpg', 'bad.jpg', 'gone.jpg', 'good2.jpg']
    images = [
        dict(id=i, file_name=n, width=48 if n == 'cut.jpg' else 32,
             height=64 if n == 'cut.jpg' else 24)
        for i, n in enumerate(names, 1)
    ]
    anns = [_box(i, i, [2, 2, 12, 10]) for i in range(1, 6)]
    _write_json(osp.join(root, 'annotations', 'train.json'), images, anns)
    return root


def test_lists_unreadable_and_missing_and_warns_on_truncated(
        three_bad_files):
    reports = check_datasets(_config(three_bad_files), progress=False)
    assert len(reports) == 1
    report = reports[0]
    assert (report.num_images, report.num_boxes) == (5, 5)
    assert report.kinds('error') == {
        'undecodable image files': 1,
        'missing image files': 1
    }
    assert report.examples('undecodable image files') == ['bad.jpg']
    assert report.examples('missing image files') == ['gone.jpg']
    assert report.kinds('warning') == {
        'truncated or damaged files (only the tolerant decoder reads them; '
        'missing parts filled in)': 1
    }
    assert report.examples('truncated or damaged files (only the tolerant '
                           'decoder reads them; missing parts filled in)'
                           ) == ['cut.jpg']
    assert report.kinds('info') == {}
    text = format_reports(reports)
    assert 'ERROR   missing image files: 1 (gone.jpg)' in text
    assert 'ERROR   undecodable image files: 1 (bad.jpg)' in text
    assert text.splitlines()[-1] == (
        'Checked 1 data set(s), 5 images: 2 error(s), 1 warning(s); training '
        'would stop on the errors above; fix them, or skip bad images with '
        "LoadImageFromFile(on_bad_image='skip').")


def test_every_kind_of_problem_at_once(tmp_path):
    root = str(tmp_path / 'data')
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir)
    fx.write_jpeg(osp.join(img_dir, 'ok.jpg'))  # 32 x 24
    fx.write_exif_rotated_jpeg(osp.join(img_dir, 'phone.jpg'), 6)
    fx.write_cmyk_jpeg(osp.join(img_dir, 'print.jpg'))
    fx.write_grey_jpeg(osp.join(img_dir, 'grey.jpg'))
    fx.write_rgba_png(osp.join(img_dir, 'logo.png'))  # 10 x 8
    cv2.imwrite(osp.join(img_dir, 'big.jpg'), np.zeros((20, 20, 3), np.uint8))
    images = [
        dict(id=1, file_name='ok.jpg', width=32, height=24),
        # annotated on the unrotated pixels: the json has the stored size
        dict(id=2, file_name='phone.jpg', width=32, height=24),
        dict(id=3, file_name='print.jpg', width=32, height=24),
        dict(id=4, file_name='grey.jpg', width=32, height=24),
        dict(id=5, file_name='logo.png', width=10, height=8),
        dict(id=6, file_name='big.jpg', width=40, height=40),  # wrong size
    ]
    anns = [
        _box(1, 1, [1, 1, 10, 10]),
        _box(2, 1, [25, 20, 10, 10]),  # partly outside: clipped
        _box(3, 1, [40, 40, 5, 5]),  # outside
        _box(4, 1, [3, 3, 0, 5]),  # degenerate
        _box(5, 1, [3, 3, 'a', 5]),  # malformed
        dict(_box(6, 2, [1, 1, 5, 5]), category_id=7),  # unknown category
        _box(7, 9, [1, 1, 5, 5]),  # unknown image
        _box(7, 3, [1, 1, 5, 5]),  # duplicate id
        _box(8, 4, [1, 1, 5, 5], ignore=1),
        dict(_box(9, 5, [1, 1, 5, 5]), iscrowd=1),  # crowd only: no boxes
        _box(10, 6, [1, 1, 30, 30]),  # inside the json's 40 x 40 only
    ]
    _write_json(osp.join(root, 'annotations', 'train.json'), images, anns)
    report = check_datasets(_config(root), progress=False, workers=2)[0]
    assert report.kinds('error') == {
        'malformed bbox (not four finite numbers)': 1,
        'unknown category id': 1,
        'annotation of an image id the json does not list': 1,
        'duplicate annotation id': 1,
    }
    assert report.examples('unknown category id') == [
        'phone.jpg (annotation 6): category_id 7'
    ]
    assert report.kinds('warning') == {
        'image size in the json differs from the file': 2,
        'boxes partly outside their image (clipped)': 2,
        'boxes outside their image (dropped)': 1,
        'degenerate boxes (width or height < 1 px; not trained on)': 1,
    }
    assert report.examples('image size in the json differs from the file') == [
        'phone.jpg: json 32x24, file 24x32; the json has the unrotated '
        'size: were the boxes drawn without the EXIF rotation?',
        'big.jpg: json 40x40, file 20x20'
    ]
    # Boxes are checked against the file's size (what training sees).
    assert report.examples('boxes partly outside their image (clipped)') == [
        'ok.jpg (annotation 2)', 'big.jpg (annotation 10)'
    ]
    assert report.kinds('info') == {
        'EXIF orientation (applied when loading)': 1,
        'non-RGB files (mode CMYK; loaded as 8-bit BGR)': 1,
        'non-RGB files (mode L; loaded as 8-bit BGR)': 1,
        'non-RGB files (mode RGBA; loaded as 8-bit BGR)': 1,
        'ignored boxes (iscrowd=1)': 1,
        'images without boxes': 2,
    }
    assert report.examples('images without boxes') == ['phone.jpg',
                                                       'logo.png']
    assert report.examples('EXIF orientation (applied when loading)') == [
        'phone.jpg (6)'
    ]


def test_examples_are_capped_and_counts_complete(tmp_path):
    root = str(tmp_path / 'data')
    images = [dict(id=i, file_name=f'{i}.jpg', width=8, height=8)
              for i in range(1, 9)]
    _write_json(osp.join(root, 'annotations', 'train.json'), images, [])
    source = dataset_sources(_config(root))[0]
    report = check_dataset(source, progress=False, max_examples=3)
    # None readable at all: one more error, naming the json and the folder.
    nothing = "no readable image at all (even on_bad_image='skip' has " \
        'nothing to train on)'
    assert report.kinds('error') == {'missing image files': 8, nothing: 1}
    assert report.examples(nothing) == [
        f'8 listed in {root}/annotations/train.json, none readable in '
        f'{root}/images/: is data_prefix.img right?'
    ]
    assert report.examples('missing image files') == ['1.jpg', '2.jpg',
                                                      '3.jpg']
    assert 'missing image files: 8 (1.jpg, 2.jpg, 3.jpg, ...)' in \
        report.format()


def test_unreadable_json_and_no_dataset(tmp_path):
    root = str(tmp_path / 'data')
    os.makedirs(osp.join(root, 'annotations'))
    with open(osp.join(root, 'annotations', 'train.json'), 'w') as f:
        f.write('[1, 2]')
    report = check_datasets(_config(root), progress=False)[0]
    assert report.kinds('error') == {'unreadable annotation file': 1}
    assert 'not a COCO json' in report.examples(
        'unreadable annotation file')[0]
    with pytest.raises(ValueError, match='no data set with an ann_file'):
        check_datasets(Config(dict(train_dataloader=None)))


def test_sources_look_through_wrappers_and_merge_shared_files(tmp_path):
    root = str(tmp_path) + '/'
    inner = dict(type='CocoDataset', data_root=root, ann_file='a/val.json',
                 data_prefix=dict(img='val/'),
                 pipeline=[dict(type='LoadImageFromFile',
                                imdecode_backend='pillow')])
    val = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=inner),
        dict(inner, ann_file='/abs/other.json', data_prefix=dict(img='o/'))
    ])
    cfg = _config(root, val=val)
    sources = dataset_sources(cfg)
    assert [s['name'] for s in sources] == ['train', 'val/test', 'val/test']
    assert sources[1] == dict(name='val/test', ann_file=root + 'a/val.json',
                              img_dir=root + 'val/', backend='pillow')
    assert sources[2]['ann_file'] == '/abs/other.json'
    assert sources[0]['backend'] == 'cv2'
    assert [s['name'] for s in dataset_sources(cfg, ['test'])] == ['test',
                                                                   'test']


def test_progress_bar_and_timing(three_bad_files, capsys):
    reports, text = run_check(_config(three_bad_files), ['train'])
    out = capsys.readouterr().out
    assert '5/5' in out
    assert ' images in ' in text.splitlines()[-1]


def test_tool_exit_status(three_bad_files, tmp_path):
    config = str(tmp_path / 'cfg.py')
    with open(config, 'w') as f:
        f.write(_config(three_bad_files).pretty_text)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')

    def run(*args):
        return subprocess.run(
            [sys.executable, 'tools/misc/check_dataset.py', config,
             '--no-progress', *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    proc = run()
    assert proc.returncode == 1, proc.stderr
    assert 'ERROR   missing image files: 1 (gone.jpg)' in proc.stdout
    assert 'ERROR   undecodable image files: 1 (bad.jpg)' in proc.stdout
    assert 'WARNING truncated or damaged files' in proc.stdout

    # Without the two bad files nothing would stop training.
    os.remove(osp.join(three_bad_files, 'images', 'bad.jpg'))
    fx.write_jpeg(osp.join(three_bad_files, 'images', 'bad.jpg'))
    fx.write_jpeg(osp.join(three_bad_files, 'images', 'gone.jpg'))
    proc = run('--split', 'train', '--cfg-options',
               'train_dataloader.num_workers=0')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'nothing would stop training' in proc.stdout
