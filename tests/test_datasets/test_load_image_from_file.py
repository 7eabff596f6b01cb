import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from fcos_mm.datasets import LoadImageFromFile
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
