"""SkippedImagesHook: logs each skipped image once, and per epoch how many
and which (the full training run is in tests/test_tools)."""
import logging
from types import SimpleNamespace

import pytest
from mmdet.structures import DetDataSample
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import IterBasedTrainLoop

from fcos_mm.datasets.coco import SKIPPED_IMAGES_KEY
from fcos_mm.engine import SkippedImagesHook
from fcos_mm.registry import HOOKS


def _batch(*skipped_lists):
    samples = []
    for skipped in skipped_lists:
        sample = DetDataSample()
        if skipped:
            sample.set_metainfo({
                SKIPPED_IMAGES_KEY: [
                    dict(img_path=p, img_id=None, reason=f'Cannot find {p}.')
                    for p in skipped
                ]
            })
        samples.append(sample)
    return dict(inputs=[None] * len(samples), data_samples=samples)


@pytest.fixture
def runner():
    return SimpleNamespace(
        epoch=0,
        iter=0,
        train_loop=SimpleNamespace(_max_epochs=3),
        message_hub=MessageHub.get_instance('test_skipped_images_hook'))


@pytest.fixture
def logs(caplog):
    # print_log(logger='current') writes to the newest MMLogger, which
    # calls its own handlers only (no propagation).
    logger = MMLogger.get_instance('test_skipped_images_hook')
    MMLogger._instance_dict.move_to_end('test_skipped_images_hook')
    caplog.handler.setLevel(logging.WARNING)
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_logs_each_image_once_and_a_summary_per_epoch(runner, logs):
    hook = HOOKS.build(dict(type='SkippedImagesHook'))
    assert isinstance(hook, SkippedImagesHook)
    hook.after_train_iter(runner, 0, _batch(['a.jpg'], [], ['b.jpg']))
    hook.after_train_iter(runner, 1, _batch(['a.jpg']))
    messages = [r.getMessage() for r in logs.records]
    assert len(messages) == 2
    assert messages[0] == (
        "Image skipped (on_bad_image='skip'), another one drawn in its "
        'place: Cannot find a.jpg. (1 different image(s) skipped so far on '
        'this rank.)')
    assert 'Cannot find b.jpg. (2 different' in messages[1]
    assert runner.message_hub.get_info(SKIPPED_IMAGES_KEY) == ['a.jpg',
                                                                'b.jpg']
    logs.clear()
    hook.after_train_epoch(runner)
    assert [r.getMessage() for r in logs.records] == [
        "Epoch 1: 2 unreadable or missing image(s) skipped (3 time(s) in "
        "all; on_bad_image='skip'): a.jpg, b.jpg."
    ]
    # The next epoch starts from zero; nothing skipped, nothing said.
    logs.clear()
    runner.epoch = 1
    hook.after_train_epoch(runner)
    assert logs.records == []
    hook.after_train(runner)
    assert [r.getMessage() for r in logs.records] == [
        "Training: 2 unreadable or missing image(s) skipped (3 time(s) in "
        "all; on_bad_image='skip'): a.jpg, b.jpg."
    ]


def test_iteration_loops_and_long_lists(runner, logs):
    # IterBasedTrainLoop runs one "epoch": only the end of training sums up.
    runner.train_loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    hook = SkippedImagesHook(max_listed=2)
    hook.after_train_iter(runner, 0, _batch(['a', 'b', 'c']))
    logs.clear()
    hook.after_train_epoch(runner)
    assert logs.records == []
    hook.after_train(runner)
    assert [r.getMessage() for r in logs.records] == [
        "Training: 3 unreadable or missing image(s) skipped (3 time(s) in "
        "all; on_bad_image='skip'): a, b and 1 more."
    ]


def test_batches_without_records(runner, logs):
    hook = SkippedImagesHook()
    hook.after_train_iter(runner, 0, None)
    hook.after_train_iter(runner, 0, dict(inputs=[1], data_samples=[object()]))
    hook.after_train_iter(runner, 0, _batch([], []))
    hook.after_train_epoch(runner)
    hook.after_train(runner)
    assert logs.records == []


def test_summary_sums_over_ranks(runner, logs, monkeypatch):
    # Two ranks: this one skipped a.jpg twice, the other b.jpg and a.jpg.
    import fcos_mm.engine.hooks.skipped_images_hook as module
    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(module, 'all_gather_object',
                        lambda obj: [obj, (2, ['b.jpg', 'a.jpg'])])
    hook = SkippedImagesHook()
    hook.after_train_iter(runner, 0, _batch(['a.jpg'], ['a.jpg']))
    logs.clear()
    hook.after_train_epoch(runner)
    assert [r.getMessage() for r in logs.records] == [
        "Epoch 1: 2 unreadable or missing image(s) skipped (4 time(s) in "
        "all; on_bad_image='skip'): a.jpg, b.jpg."
    ]
