"""tools/train.py and tools/test.py stop in their first seconds, naming the
file, class or key and the fix, on what a user's own data gets wrong
(issue 26): class names, class counts, images, checkpoints of another class
count; and fine-tuning from one says what it re-initialised, once."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from fcos_mm.registry import MODELS
from fcos_mm.utils import register_all_modules


def _checkpoint(config, path, num_classes):
    """Random weights of ``config``'s model with ``num_classes`` outputs."""
    register_all_modules()
    cfg = Config.fromfile(config, import_custom_modules=False)
    cfg.model.bbox_head.num_classes = num_classes
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def _no_checkpoint_written(work_dir):
    return not glob.glob(osp.join(work_dir, '**', '*.pth'), recursive=True)


@pytest.mark.parametrize('options, expected', [
    (['train_dataloader.dataset.metainfo.classes=(Person,car)'], [
        'instances_train2017.json (train data set) has no category named '
        "'Person' ('Person': did you mean 'person'?",
        'Fix: --cfg-options "train_dataloader.dataset.metainfo.classes='
        '(person,car)"'
    ]),
    (['model.bbox_head.num_classes=80'], [
        'model.bbox_head.num_classes is 80 but train_dataloader.dataset.'
        "metainfo.classes names 2 class(es) ('person', 'car')",
    ]),
    (['val_dataloader.dataset.metainfo.classes=(car,person)'], [
        "val_dataloader.dataset.metainfo.classes is ('car', 'person'), but "
        'the model is trained on train_dataloader.dataset.metainfo.classes '
        "= ('person', 'car')",
    ]),
])
def test_train_stops_before_building_anything(tmp_path, tiny_config, tools,
                                              tool_env, options, expected):
    work_dir = str(tmp_path / 'work')
    proc = tools.run([
        tools.python, 'tools/train.py',
        tiny_config(batch_size=2, max_epochs=1, evaluation=True),
        '--work-dir', work_dir, '--cfg-options', *options
    ], tool_env)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.startswith('fcos_mm: The config and its annotation '
                                  'files disagree')
    for text in expected:
        assert text in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not osp.exists(work_dir)  # not even a log


def test_train_with_no_readable_image_stops_before_the_first_step(
        tmp_path, tiny_config, tools, tool_env):
    # The base runtime's image check (the tiny config replaces the hooks).
    config = str(tmp_path / 'with_check.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = {tiny_config(batch_size=2, max_epochs=1)!r}\n'
                "custom_hooks = [dict(type='CheckImagesHook'), "
                "dict(type='RecordIters')]\n")
    work_dir = str(tmp_path / 'work')
    proc = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', 'train_dataloader.dataset.data_prefix.img=photos/',
        'train_dataloader.dataset.pipeline.0.on_bad_image=skip'
    ], tool_env)
    assert proc.returncode == 1
    assert ('2 of the 2 training images of' in proc.stderr)
    assert ('None of them can: is data_prefix.img (or data_root) right?'
            in proc.stderr)
    assert 'Cannot find valid image' not in proc.stderr
    assert not osp.exists(osp.join(work_dir, 'iters_rank0.jsonl'))
    assert _no_checkpoint_written(work_dir)


def test_test_tool_checks_checkpoint_classes_and_images_up_front(
        tmp_path, tiny_config, coco_tiny_root, tools, tool_env):
    config = tiny_config(batch_size=2, max_epochs=1, evaluation=True)
    out = str(tmp_path / 'results.pkl')

    coco = _checkpoint(config, str(tmp_path / 'coco80.pth'), 80)
    proc = tools.run([
        tools.python, 'tools/test.py', config, coco, '--work-dir',
        str(tmp_path / 'test'), '--out', out
    ], tool_env)
    assert proc.returncode == 1
    assert (f"ValueError: Checkpoint {coco} was trained for 80 classes, but "
            "the config's model.bbox_head.num_classes is 2") in proc.stderr
    assert 'size mismatch' not in proc.stdout + proc.stderr
    assert not osp.exists(out)

    own = _checkpoint(config, str(tmp_path / 'own.pth'), 2)
    missing = osp.join(coco_tiny_root['root'], 'val2017', '001001.jpg')
    os.remove(missing)
    proc = tools.run([
        tools.python, 'tools/test.py', config, own, '--work-dir',
        str(tmp_path / 'test'), '--out', out
    ], tool_env)
    assert proc.returncode == 1
    assert (f'1 of the 2 testing images of {coco_tiny_root["val_ann"]} '
            f'cannot be loaded: {missing} (missing). Testing needs every '
            'image') in proc.stderr
    assert 'Epoch(test)' not in proc.stdout + proc.stderr
    assert not osp.exists(out)


def test_fine_tuning_from_another_class_count_logs_one_line(
        tmp_path, tiny_config, tools, tool_env):
    config = tiny_config(batch_size=2, max_epochs=1)
    coco = _checkpoint(config, str(tmp_path / 'coco80.pth'), 80)
    work_dir = str(tmp_path / 'work')
    proc = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', f'load_from={coco}'
    ], tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    line = (f'load_from {coco}: re-initialised 2 tensor(s) whose shape '
            "differs from the model's, because the checkpoint has 80 "
            'classes, this config 2 (model.bbox_head.num_classes): '
            'bbox_head.conv_cls.weight (80, 16, 3, 3) -> (2, 16, 3, 3), '
            'bbox_head.conv_cls.bias (80,) -> (2,).')
    assert output.count(line) == 1
    (log_file, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log_file) as f:
        assert f.read().count(line) == 1
    # Nothing else noisy: no mmengine mismatch print, and the frozen
    # parameters (frozen_stages=1, frozen BN) in one line, not one each.
    assert 'size mismatch' not in output
    assert 'is skipped since its requires_grad' not in output
    assert output.count('frozen parameters (requires_grad=False') == 1
    assert len(tools.read_iters(work_dir)) == 1
