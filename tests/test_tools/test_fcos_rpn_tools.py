"""tools/train.py and tools/test.py on the demo-sized configs of
configs/fcos_rpn/, as users run them, on a few synthetic images.

Two iterations each: the point is that the configs run end to end and the
tools print the figures (AR for the proposal network, bbox mAP for Faster
R-CNN), not what the figures are.
"""
import os.path as osp

import pytest

from fcos_mm.datasets.synthetic import generate_synthetic_coco
from fcos_mm.utils import load_safely

CONFIGS = 'configs/fcos_rpn/'
PROPOSAL = CONFIGS + 'fcos-rpn_r18-w16_fpn-64_1xb8-300i_synthetic.py'
TWO_STAGE = (CONFIGS +
             'faster-rcnn_r18-w16_fpn-64_fcos-rpn_1xb8-300i_synthetic.py')


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic'))
    ann_files = generate_synthetic_coco(root, num_train=2, num_val=2)
    return root + '/', ann_files['val']


def _data_options(root, val_ann, num_metrics):
    options = [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
        'test_dataloader.batch_size=2'
    ]
    for split in ('val', 'test'):
        if num_metrics == 1:
            options.append(f'{split}_evaluator.ann_file={val_ann}')
        else:
            options += [
                f'{split}_evaluator.{i}.ann_file={val_ann}'
                for i in range(num_metrics)
            ]
    return options


def _train(tools, tool_env, config, work_dir, options):
    proc = tools.run([
        tools.python, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ] + options, tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_proposal_config_trains_and_test_prints_recall(
        tmp_path, synthetic_root, tools, tool_env):
    root, val_ann = synthetic_root
    options = _data_options(root, val_ann, num_metrics=2)
    work_dir = str(tmp_path / 'work')
    log = _train(tools, tool_env, PROPOSAL, work_dir, options)
    assert 'Iter(train) [2/2]' in log
    for key in ('loss_cls', 'loss_bbox', 'loss_centerness'):
        assert f' {key}: ' in log
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert load_safely(checkpoint, 'cpu')['meta']['iter'] == 2

    proc = tools.run([
        tools.python, 'tools/test.py', PROPOSAL, checkpoint, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options'
    ] + options, tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    # proposal_fast: AR@N lines; proposal: COCOeval's AR table by size
    for num in (10, 100, 300, 1000):
        assert f'AR@{num}\t' in log
    assert 'Average Recall     (AR) @[ IoU=0.50:0.95 | area= small' in log
    for key in ('coco/AR@100:', 'coco/AR@1000:', 'proposal/AR@100:',
                'proposal/AR_l@1000:'):
        assert key in log


def test_two_stage_config_trains_and_evaluates_bbox_map(
        tmp_path, synthetic_root, tools, tool_env):
    root, val_ann = synthetic_root
    log = _train(tools, tool_env, TWO_STAGE, str(tmp_path / 'work'),
                 _data_options(root, val_ann, num_metrics=1))
    assert 'Iter(train) [2/2]' in log
    for key in ('rpn_loss_cls', 'rpn_loss_bbox', 'rpn_loss_centerness',
                'loss_cls', 'loss_bbox', 'acc'):
        assert f' {key}: ' in log
    # validation after the last iteration: COCO bbox mAP
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in log
    assert 'coco/bbox_mAP:' in log
