"""init_detector / inference_detector on a small FCOS with random weights."""
import copy

import mmcv
import numpy as np
import pytest
import torch

from fcos_mm.apis import build_test_pipeline, inference_detector, init_detector


def _image(seed=0, size=64):
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    img[8:40, 16:56] = rng.integers(0, 255, 3)
    return img


def _same_detections(a, b, scale=1.0):
    pa, pb = a.pred_instances, b.pred_instances
    assert len(pa) == len(pb) > 0
    torch.testing.assert_close(pa.bboxes * scale, pb.bboxes)
    torch.testing.assert_close(pa.scores, pb.scores)
    assert torch.equal(pa.labels, pb.labels)


CLASSES = ('square', 'disc', 'triangle')


@pytest.fixture
def model(tiny_model):
    return tiny_model


def test_init_detector_without_checkpoint(model):
    # init_cfg (a torchvision download) was switched off, classes and
    # palette come from the config's test dataset.
    assert model.cfg.model.backbone.init_cfg is None
    assert model.dataset_meta['classes'] == CLASSES
    assert model.dataset_meta['palette'][0] == (255, 0, 0)
    assert not model.training
    assert next(model.parameters()).device.type == 'cpu'


def test_init_detector_loads_checkpoint_and_its_meta(model, tmp_path,
                                                    make_config):
    path = tmp_path / 'ckpt.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=('x', 'y', 'z')))), path)
    loaded = init_detector(make_config(), str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    # The checkpoint's classes win, the palette comes from the config.
    assert loaded.dataset_meta['classes'] == ('x', 'y', 'z')
    assert loaded.dataset_meta['palette'][2] == (0, 0, 255)


def test_init_detector_reads_config_files_and_options(tmp_path, make_config):
    path = tmp_path / 'tiny.py'
    make_config().dump(str(path))
    model = init_detector(
        str(path), cfg_options={'model.test_cfg.score_thr': 0.25})
    assert model.cfg.model.test_cfg.score_thr == 0.25
    assert model.bbox_head.test_cfg.score_thr == 0.25


def test_init_detector_errors_name_the_file(tmp_path, make_config):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        init_detector(str(tmp_path / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_detector(make_config(), str(tmp_path / 'nope.pth'))
    with pytest.raises(TypeError, match='Config'):
        init_detector(42)


def test_file_and_array_give_the_same_result(model, tmp_path):
    img = _image()
    path = tmp_path / 'img.png'
    mmcv.imwrite(img, str(path))
    from_file = inference_detector(model, str(path))
    from_array = inference_detector(model, img)
    _same_detections(from_file, from_array)
    assert from_file.metainfo['img_path'] == str(path)
    assert from_file.ori_shape == (64, 64)


def test_batch_returns_one_result_per_image(model, tmp_path):
    imgs = [_image(0), _image(1)]
    path = tmp_path / 'one.png'
    mmcv.imwrite(imgs[1], str(path))
    results = inference_detector(model, [imgs[0], str(path)])
    assert isinstance(results, list) and len(results) == 2
    _same_detections(results[0], inference_detector(model, imgs[0]))
    _same_detections(results[1], inference_detector(model, imgs[1]))
    assert inference_detector(model, []) == []


def test_boxes_are_in_original_image_pixels(model):
    # A 128x128 image that is the 64x64 one upsampled 2x (nearest) is
    # resized back to exactly the 64x64 one (bilinear samples between two
    # equal pixels), so the network sees the same input and the boxes must
    # come back twice as large.
    small = _image(2)
    large = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    small_result = inference_detector(model, small)
    large_result = inference_detector(model, large)
    assert large_result.ori_shape == (128, 128)
    _same_detections(small_result, large_result, scale=2.0)


def test_bad_images_get_clear_errors(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_detector(model, str(tmp_path / 'missing.jpg'))
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not an image')
    with pytest.raises(RuntimeError, match='broken.png'):
        inference_detector(model, str(broken))
    with pytest.raises(ValueError, match='Image 1'):
        inference_detector(model, [_image(), np.zeros((4, 4, 3, 2))])
    with pytest.raises(TypeError, match='Image 0'):
        inference_detector(model, [3])


def test_test_pipeline_switches_loader_for_arrays(model):
    pipeline = build_test_pipeline(model.cfg, from_array=True)
    assert type(pipeline.transforms[0]).__name__ == 'LoadImageFromNDArray'
    pipeline = build_test_pipeline(model.cfg, from_array=False)
    assert type(pipeline.transforms[0]).__name__ != 'LoadImageFromNDArray'
    cfg = copy.deepcopy(model.cfg)
    # An evaluation pipeline's annotation loading is dropped: bare images
    # have no annotations.
    cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='LoadAnnotations', with_bbox=True))
    names = [
        type(t).__name__
        for t in build_test_pipeline(cfg, from_array=False).transforms
    ]
    assert 'LoadAnnotations' not in names and len(names) == 3
    cfg.test_dataloader.dataset = dict(
        type='ConcatDataset', datasets=[cfg.test_dataloader.dataset])
    assert len(build_test_pipeline(cfg, False).transforms) == 3
    cfg.test_dataloader.dataset = dict(type='Nothing')
    with pytest.raises(KeyError, match='pipeline'):
        build_test_pipeline(cfg, False)


def test_old_checkpoint_meta_and_config_without_data(model, tmp_path,
                                                     make_config):
    # mmdet 2.x kept the class names under meta['CLASSES']; a config with
    # no dataset section then has no palette: random colours.
    path = tmp_path / 'old.pth'
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(CLASSES=('p', 'q',
                                                               'r'))), path)
    cfg = make_config()
    cfg.pop('test_dataloader')
    loaded = init_detector(cfg, str(path))
    assert loaded.dataset_meta == {'classes': ('p', 'q', 'r'),
                                   'palette': 'random'}
    with pytest.warns(UserWarning, match='names the classes'):
        init_detector(cfg)
    cfg.pop('model')
    with pytest.raises(KeyError, match='model'):
        init_detector(cfg)


def _fixtures():
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(__file__), '..', 'test_datasets',
                    'image_fixtures.py')
    spec = importlib.util.spec_from_file_location('image_fixtures', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('writer,name', [
    ('write_exif_rotated_jpeg', 'phone.jpg'),
    ('write_cmyk_jpeg', 'print.jpg'),
    ('write_grey_jpeg', 'grey.jpg'),
    ('write_rgba_png', 'logo.png'),
    ('write_16bit_png', 'deep.png'),
    ('write_truncated_jpeg', 'cut.jpg'),
])
def test_awkward_files_are_seen_as_in_training(model, tmp_path, writer,
                                               name):
    # inference_detector runs the config's LoadImageFromFile, so a file
    # gives the detections of the array training would have decoded from
    # it (fcos_mm.datasets.image_io.decode_image): rotated as EXIF says,
    # 3-channel 8-bit.
    from fcos_mm.datasets.image_io import decode_image
    path = str(tmp_path / name)
    getattr(_fixtures(), writer)(path)
    with open(path, 'rb') as f:
        decoded, _ = decode_image(f.read())
    if writer == 'write_truncated_jpeg':
        with pytest.warns(UserWarning, match=f'image file {path}'):
            from_file = inference_detector(model, path)
    else:
        from_file = inference_detector(model, path)
    assert from_file.ori_shape == decoded.shape[:2]
    _same_detections(from_file, inference_detector(model, decoded))


def test_checkpoint_of_another_class_count_is_refused(model, tmp_path,
                                                      make_config):
    # A 5-class checkpoint under the 3-class config: mmengine would print
    # "size mismatch" and leave a random classifier.
    five = init_detector(make_config(),
                         cfg_options={'model.bbox_head.num_classes': 5})
    path = str(tmp_path / 'five.pth')
    torch.save(dict(state_dict=five.state_dict()), path)
    with pytest.raises(ValueError) as e:
        init_detector(make_config(), path)
    message = str(e.value)
    assert message.startswith(
        f'Checkpoint {path} was trained for 5 classes, but the config\'s '
        'model.bbox_head.num_classes is 3')
    assert '--cfg-options model.bbox_head.num_classes=5' in message
