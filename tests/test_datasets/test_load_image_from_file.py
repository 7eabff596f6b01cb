import importlib.util
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from fcos_mm.datasets import LoadImageFromFile
from fcos_mm.datasets import load_image_from_file as load_image_module
from fcos_mm.datasets.load_image_from_file import pop_skipped_images
from fcos_mm.registry import TRANSFORMS


@pytest.fixture
def jpeg(tmp_path):
    img = np.zeros((12, 16, 3), np.uint8)
    img[2:6, 3:9] = (10, 200, 30)
    path = str(tmp_path / 'ok.jpg')
    cv2.imwrite(path, img)
    return path


def test_registered_under_mmcv_name():
    assert TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile


def test_good_image_loads_as_mmcv(jpeg):
    ours = LoadImageFromFile(to_float32=True)(dict(img_path=jpeg))
    theirs = MMCVLoadImageFromFile(to_float32=True)(dict(img_path=jpeg))
    assert ours['img'].dtype == np.float32
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    np.testing.assert_array_equal(ours['img'], cv2.imread(jpeg))
    assert ours['img_shape'] == ours['ori_shape'] == (12, 16)


def test_missing_file_names_path_and_image_id(tmp_path):
    path = str(tmp_path / 'train2017' / 'nope.jpg')
    with pytest.raises(FileNotFoundError) as e:
        LoadImageFromFile()(dict(img_path=path, img_id=17))
    assert f'Cannot find image file {path} (img_id 17)' in str(e.value)


@pytest.mark.parametrize('content', [b'', b'this is not an image',
                                     b'\xff\xd8\xff\xe0' + b'\x00' * 64])
def test_corrupt_file_names_path(tmp_path, content):
    path = str(tmp_path / 'bad.jpg')
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(ValueError) as e:
        LoadImageFromFile()(dict(img_path=path, img_id=3))
    assert f'Cannot decode image file {path} (img_id 3)' in str(e.value)
    assert f'({len(content)} bytes)' in str(e.value)


def test_pillow_backend_error_names_path(tmp_path):
    path = str(tmp_path / 'bad.png')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(ValueError, match=f'Cannot decode image file {path}'):
        LoadImageFromFile(imdecode_backend='pillow')(dict(img_path=path))


def test_unreadable_path_names_path(tmp_path):
    # A directory: the backend fails with something other than "not found".
    with pytest.raises(ValueError, match=f'Cannot read image file {tmp_path}'):
        LoadImageFromFile()(dict(img_path=str(tmp_path)))


def test_ignore_empty_warns_and_skips(tmp_path):
    path = str(tmp_path / 'missing.jpg')
    with pytest.warns(UserWarning, match=f'Cannot find image file {path}.*'
                      r'Skipping it \(ignore_empty=True\)'):
        out = LoadImageFromFile(ignore_empty=True)(dict(img_path=path))
    assert out is None


class _Images(torch.utils.data.Dataset):

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return LoadImageFromFile()(dict(img_path=self.paths[i]))


def test_error_in_dataloader_worker_keeps_type_and_message(tmp_path, jpeg):
    missing = str(tmp_path / 'gone.jpg')
    loader = torch.utils.data.DataLoader(_Images([jpeg, missing]),
                                         batch_size=1,
                                         num_workers=1,
                                         collate_fn=lambda b: b,
                                         multiprocessing_context='fork')
    with pytest.raises(FileNotFoundError) as e:
        list(loader)
    assert f'Cannot find image file {missing}.' in str(e.value)
    assert osp.basename(jpeg) not in str(e.value)


def test_deprecated_file_client_args(jpeg, tmp_path):
    load = LoadImageFromFile(file_client_args=dict(backend='disk'))
    np.testing.assert_array_equal(
        load(dict(img_path=jpeg))['img'], cv2.imread(jpeg))
    with pytest.raises(FileNotFoundError, match='Cannot find image file'):
        load(dict(img_path=str(tmp_path / 'no.jpg')))


# The bad-image policy and the viewer's decoding (fcos_mm.datasets.image_io)

_fx_spec = importlib.util.spec_from_file_location(
    'image_fixtures', osp.join(osp.dirname(__file__), 'image_fixtures.py'))
fx = importlib.util.module_from_spec(_fx_spec)
_fx_spec.loader.exec_module(fx)


@pytest.fixture(autouse=True)
def fresh_records():
    load_image_module._warned_fallback.clear()
    pop_skipped_images()
    yield
    pop_skipped_images()


def test_truncated_jpeg_loads_with_one_warning_naming_it(tmp_path):
    path = str(tmp_path / 'cut.jpg')
    full = fx.write_truncated_jpeg(path)
    load = LoadImageFromFile()
    with pytest.warns(UserWarning) as record:
        out = load(dict(img_path=path, img_id=5))
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert messages[0].startswith(f'image file {path} (img_id 5): cv2 could '
                                  'not decode it')
    assert out['img'].shape == full.shape == (64, 48, 3)
    assert out['ori_shape'] == (64, 48)
    # Once per file and process: the next epoch is quiet.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load(dict(img_path=path, img_id=5))
    assert pop_skipped_images() == []


@pytest.mark.parametrize('writer', [
    'write_exif_rotated_jpeg', 'write_cmyk_jpeg', 'write_grey_jpeg',
    'write_rgba_png', 'write_16bit_png'
])
def test_loads_what_a_viewer_shows(tmp_path, writer):
    path = str(tmp_path / ('x.png' if 'png' in writer else 'x.jpg'))
    expected = getattr(fx, writer)(path)
    out = LoadImageFromFile()(dict(img_path=path))
    assert out['img'].shape == expected.shape
    tol = 0 if 'png' in writer else 6
    assert np.abs(out['img'].astype(int) - expected).max() <= tol
    assert out['ori_shape'] == expected.shape[:2]


def test_skip_policy_records_and_warns(tmp_path):
    missing = str(tmp_path / 'gone.jpg')
    bad = str(tmp_path / 'bad.jpg')
    fx.write_unreadable(bad)
    load = LoadImageFromFile(on_bad_image='skip')
    with pytest.warns(UserWarning, match=f"Cannot find image file {missing} "
                      r"\(img_id 1\)\. Skipping it \(on_bad_image='skip'\)"):
        assert load(dict(img_path=missing, img_id=1)) is None
    with pytest.warns(UserWarning, match=f'Cannot decode image file {bad} '
                      r'\(img_id 2\) \(40 bytes\): not a readable image'):
        assert load(dict(img_path=bad, img_id=2)) is None
    records = pop_skipped_images()
    assert [(r['img_path'], r['img_id']) for r in records] == [(missing, 1),
                                                               (bad, 2)]
    assert records[0]['reason'] == f'Cannot find image file {missing} ' \
        '(img_id 1).'
    assert records[1]['reason'].startswith(f'Cannot decode image file {bad}')
    assert pop_skipped_images() == []


def test_default_policy_raises_naming_the_file(tmp_path):
    bad = str(tmp_path / 'bad.jpg')
    fx.write_unreadable(bad)
    with pytest.raises(ValueError, match=f'Cannot decode image file {bad} '
                       r'\(img_id 9\) \(40 bytes\): not a readable image'):
        LoadImageFromFile()(dict(img_path=bad, img_id=9))
    assert pop_skipped_images() == []


def test_policy_is_checked_and_shown():
    with pytest.raises(ValueError, match="on_bad_image must be one of"):
        LoadImageFromFile(on_bad_image='ignore')
    assert "on_bad_image='skip'" in repr(
        LoadImageFromFile(on_bad_image='skip'))
    assert LoadImageFromFile(ignore_empty=True).on_bad_image == 'skip'
    assert TRANSFORMS.build(
        dict(type='LoadImageFromFile',
             on_bad_image='skip')).on_bad_image == 'skip'


def test_other_color_types_keep_mmcv_decoding(tmp_path, jpeg):
    out = LoadImageFromFile(color_type='grayscale')(dict(img_path=jpeg))
    np.testing.assert_array_equal(out['img'],
                                  cv2.imread(jpeg, cv2.IMREAD_GRAYSCALE))
    bad = str(tmp_path / 'bad.jpg')
    fx.write_unreadable(bad)
    with pytest.raises(ValueError, match=f'Cannot decode image file {bad} '
                       r'\(40 bytes\): not a readable image'):
        LoadImageFromFile(color_type='grayscale')(dict(img_path=bad))
