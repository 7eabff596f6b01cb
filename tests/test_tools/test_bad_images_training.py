"""Training on a data set with a truncated-but-readable JPEG, an unreadable
file and a missing file: the default policy stops with an error naming the
bad file, CheckImagesHook(decode=True) refuses to start naming both,
on_bad_image='skip' finishes the epoch and logs both skipped images (images
skipped in dataloader worker processes)."""
import os
import os.path as osp
import re

import pytest

CHILD = '''
_base_ = {base!r}
train_pipeline = [
    dict(type='LoadImageFromFile', on_bad_image={policy!r}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    num_workers=2,
    sampler=dict(shuffle=False),
    dataset=dict(pipeline=train_pipeline))
custom_hooks = {hooks}
'''


@pytest.fixture
def bad_data(coco_tiny_root, coco_helper):
    """7 train images; 000002.jpg truncated (readable), 000003.jpg
    unreadable, 000004.jpg missing."""
    root = coco_tiny_root['root']
    coco_helper.make_split(root, 'train', 7)
    img_dir = osp.join(root, 'train2017')
    cut = osp.join(img_dir, '000002.jpg')
    with open(cut, 'rb') as f:
        data = f.read()
    with open(cut, 'wb') as f:
        f.write(data[:-200])
    bad = osp.join(img_dir, '000003.jpg')
    with open(bad, 'wb') as f:
        f.write(data[:40])
    gone = osp.join(img_dir, '000004.jpg')
    os.remove(gone)
    return dict(cut=cut, bad=bad, gone=gone)


def _config(tmp_path, tiny_config, policy,
            hooks=(dict(type='SkippedImagesHook'), )):
    path = str(tmp_path / f'bad_{policy}.py')
    with open(path, 'w') as f:
        f.write(
            CHILD.format(
                base=tiny_config(batch_size=1, max_epochs=1),
                policy=policy,
                hooks=list(hooks)))
    return path


def test_default_policy_stops_naming_the_file(tmp_path, tiny_config, tools,
                                              tool_env, bad_data):
    config = _config(tmp_path, tiny_config, 'raise')
    proc = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir',
        str(tmp_path / 'work')
    ], tool_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # Stopped in the first epoch, on the first bad file in order, by name.
    assert re.search(r'ValueError: Cannot decode image file \S*000003\.jpg '
                     r'\(img_id 3\) \(40 bytes\): not a readable image', log)
    assert 'Epoch(train) [1][7/7]' not in log
    # The truncated file before it was read, with a warning naming it.
    assert f'image file {bad_data["cut"]} (img_id 2): cv2 could not ' \
        'decode it' in log


def test_check_at_start_refuses_naming_both(tmp_path, tiny_config, tools,
                                            tool_env, bad_data):
    config = _config(tmp_path, tiny_config, 'raise',
                     [dict(type='CheckImagesHook', decode=True)])
    proc = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir',
        str(tmp_path / 'work')
    ], tool_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert re.search(
        r'RuntimeError: 2 of the 7 training images of \S*instances_train2017'
        r'\.json cannot be loaded: \S*000003\.jpg \(undecodable\), '
        r'\S*000004\.jpg \(missing\)\.', log), log[-3000:]
    assert 'Epoch(train)' not in log


def test_skip_policy_finishes_the_epoch_and_logs_skipped(
        tmp_path, tiny_config, tools, tool_env, bad_data):
    # The base runtime's hooks: the existence check warns at the start.
    config = _config(
        tmp_path, tiny_config, 'skip',
        [dict(type='CheckImagesHook'),
         dict(type='SkippedImagesHook')])
    work_dir = str(tmp_path / 'work')
    proc = tools.run(
        [tools.python, 'tools/train.py', config, '--work-dir', work_dir],
        tool_env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Epoch(train) [1][7/7]' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert re.search(
        r'1 of the 7 training images of \S*instances_train2017\.json cannot '
        r'be loaded: \S*000004\.jpg \(missing\)\. They will be skipped', log)
    # Each skipped image logged when it happens, in the main process ...
    for path in (bad_data['bad'], bad_data['gone']):
        assert re.search(
            r"Image skipped \(on_bad_image='skip'\), another one drawn in "
            r'its place: Cannot (decode|find) image file ' + re.escape(path),
            log)
    # ... and the epoch's summary names both.
    summary = re.search(
        r'Epoch 1: 2 unreadable or missing image\(s\) skipped \((\d+) '
        r"time\(s\) in all; on_bad_image='skip'\): (.*)\.\n", log)
    assert summary, log[-4000:]
    assert int(summary.group(1)) >= 2
    assert sorted(summary.group(2).split(', ')) == sorted(
        [bad_data['bad'], bad_data['gone']])
    assert re.search(r'Training: 2 unreadable or missing image\(s\) '
                     r'skipped', log)
    # The truncated one was trained on, with one warning naming it.
    assert f'image file {bad_data["cut"]} (img_id 2): cv2 could not ' \
        'decode it' in log
    assert bad_data['cut'] not in summary.group(2)
