"""CheckImagesHook: missing (and undecodable) training images before the
first iteration."""
import logging
import os
import os.path as osp
from types import SimpleNamespace

import pytest
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmengine.dataset import ConcatDataset
from mmengine.logging import MMLogger

from fcos_mm.datasets import CocoDataset, LoadImageFromFile
from fcos_mm.engine import CheckImagesHook
from fcos_mm.registry import HOOKS


def _dataset(coco_tiny_root, policy='raise', loader=None):
    return CocoDataset(
        data_root=coco_tiny_root['root'],
        ann_file=coco_tiny_root['train_ann'],
        data_prefix=dict(img='train2017/'),
        lazy_init=True,
        pipeline=[
            loader or LoadImageFromFile(on_bad_image=policy),
            LoadAnnotations(with_bbox=True),
            PackDetInputs()
        ])


def _runner(dataset):
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))


@pytest.fixture
def broken(coco_tiny_root):
    """The tiny train split (2 images): 000001.jpg deleted, 000002.jpg
    unreadable."""
    img_dir = osp.join(coco_tiny_root['root'], 'train2017')
    os.remove(osp.join(img_dir, '000001.jpg'))
    with open(osp.join(img_dir, '000002.jpg'), 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 cut short')
    return coco_tiny_root


def test_missing_file_refuses_to_start(broken):
    hook = HOOKS.build(dict(type='CheckImagesHook'))
    assert isinstance(hook, CheckImagesHook)
    dataset = _dataset(broken)
    with pytest.raises(RuntimeError) as e:
        hook.before_train(_runner(dataset))
    message = str(e.value)
    # Existence only: the unreadable file is not noticed.
    assert message.startswith(
        f'1 of the 2 training images of {broken["train_ann"]} cannot be '
        f'loaded: {broken["root"]}/train2017/000001.jpg (missing). Fix or '
        'remove them')
    assert '000002' not in message


def test_decode_finds_undecodable_files_through_wrappers(broken):
    hook = CheckImagesHook(decode=True, max_listed=1)
    dataset = ConcatDataset([_dataset(broken), _dataset(broken)],
                            lazy_init=True)
    with pytest.raises(RuntimeError) as e:
        hook.before_train(_runner(dataset))
    assert (f'2 of the 2 training images of {broken["train_ann"]} cannot be '
            f'loaded: {broken["root"]}/train2017/000001.jpg (missing) and 1 '
            'more.') in str(e.value)


def test_skip_policy_warns(broken, caplog):
    logger = MMLogger.get_instance('test_check_images_hook')
    MMLogger._instance_dict.move_to_end('test_check_images_hook')
    caplog.handler.setLevel(logging.WARNING)
    logger.addHandler(caplog.handler)
    try:
        # Existence only: one of the two is missing, the other is kept.
        CheckImagesHook().before_train(_runner(_dataset(broken, 'skip')))
    finally:
        logger.removeHandler(caplog.handler)
    (record, ) = caplog.records
    assert record.getMessage().startswith('1 of the 2 training images')
    assert record.getMessage().endswith(
        "(missing). They will be skipped (on_bad_image='skip').")


def test_skip_policy_with_no_image_left_refuses_to_start(broken):
    # Both unreadable: 'skip' would search the data set for an image until
    # mmengine gives up ('Cannot find valid image after 1000!').
    with pytest.raises(RuntimeError) as e:
        CheckImagesHook(decode=True).before_train(
            _runner(_dataset(broken, 'skip')))
    message = str(e.value)
    assert message.startswith(
        f'2 of the 2 training images of {broken["train_ann"]} cannot be '
        f'loaded: {broken["root"]}/train2017/000001.jpg (missing), '
        f'{broken["root"]}/train2017/000002.jpg (undecodable).')
    assert 'is data_prefix.img (or data_root) right?' in message


def test_test_images_are_checked_before_the_loader_starts(coco_tiny_root):
    os.remove(osp.join(coco_tiny_root['root'], 'val2017', '001001.jpg'))
    test = CocoDataset(
        data_root=coco_tiny_root['root'],
        ann_file=coco_tiny_root['val_ann'],
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        lazy_init=True,
        pipeline=[LoadImageFromFile()])
    runner = SimpleNamespace(test_loop=SimpleNamespace(
        dataloader=SimpleNamespace(dataset=test)))
    with pytest.raises(RuntimeError) as e:
        CheckImagesHook().before_test(runner)
    assert str(e.value).startswith(
        f'1 of the 2 testing images of {coco_tiny_root["val_ann"]} cannot '
        f'be loaded: {coco_tiny_root["root"]}/val2017/001001.jpg (missing). '
        'Testing needs every image')


def test_other_loaders_and_backends_are_left_alone(broken):
    # Not our loader (here: no loader at all), or a file backend: no check.
    CheckImagesHook(decode=True).before_train(
        _runner(_dataset(broken, loader=LoadAnnotations())))
    CheckImagesHook().before_train(
        _runner(
            _dataset(
                broken,
                loader=LoadImageFromFile(
                    backend_args=dict(backend='local')))))


def test_complete_data_passes(coco_tiny_root):
    CheckImagesHook(decode=True).before_train(
        _runner(_dataset(coco_tiny_root)))


def test_validation_images_are_checked_too(coco_tiny_root):
    os.remove(osp.join(coco_tiny_root['root'], 'val2017', '001000.jpg'))
    val = CocoDataset(
        data_root=coco_tiny_root['root'],
        ann_file=coco_tiny_root['val_ann'],
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        lazy_init=True,
        pipeline=[LoadImageFromFile(on_bad_image='skip')])
    runner = _runner(_dataset(coco_tiny_root, 'skip'))
    runner.val_loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=val))
    with pytest.raises(RuntimeError) as e:
        CheckImagesHook().before_train(runner)
    assert str(e.value).startswith(
        f'1 of the 2 validation images of {coco_tiny_root["val_ann"]} cannot '
        f'be loaded: {coco_tiny_root["root"]}/val2017/001000.jpg (missing). '
        'Validation needs every image')
    # No validation loop: only training is checked.
    runner.val_loop = None
    CheckImagesHook().before_train(runner)
