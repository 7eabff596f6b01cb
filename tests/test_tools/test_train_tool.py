"""tools/train.py as users run it: a subprocess on a COCO-layout data root."""
import glob
import os
import os.path as osp

import torch

from fcos_mm.utils import load_safely


def _weights(path):
    return load_safely(path, map_location='cpu')['state_dict']


def test_r50_config_trains_two_iterations(tmp_path, coco_tiny_root, tools,
                                          tool_env):
    root = coco_tiny_root['root'] + '/'
    work_dir = str(tmp_path / 'work')
    proc = tools.run([
        tools.python, 'tools/train.py', tools.r50_config, '--work-dir',
        work_dir, '--cfg-options', 'model.backbone.init_cfg=None',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={coco_tiny_root["val_ann"]}',
        f'test_evaluator.ann_file={coco_tiny_root["val_ann"]}',
        'train_dataloader.dataset.pipeline.2.scale=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(64,64)',
        'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1',
        # the json's two classes: mmdet's CocoMetric fails on a prediction
        # of a class the json lacks, which random weights may make
        'model.bbox_head.num_classes=2',
        'train_dataloader.dataset.metainfo.classes=(person,car)',
        'val_dataloader.dataset.metainfo.classes=(person,car)',
        'test_dataloader.dataset.metainfo.classes=(person,car)'
    ], tool_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    # 2 images at 1 per iteration = 2 iterations, then COCO evaluation.
    assert 'Epoch(train) [1][2/2]' in log
    assert 'eta:' in log
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95' in log
    assert 'coco/bbox_mAP:' in log
    ckpt = load_safely(osp.join(work_dir, 'epoch_1.pth'), 'cpu')
    assert ckpt['meta']['iter'] == 2
    assert ckpt['meta']['epoch'] == 1
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())


def test_resume_after_kill_matches_uninterrupted_run(tmp_path, tiny_config,
                                                     tools, tool_env):
    # 2 images, batch 1, shuffled with a fixed seed: 2 iterations per epoch,
    # 3 epochs; a checkpoint after each epoch.
    config = tiny_config(batch_size=1, max_epochs=3)
    straight, broken = str(tmp_path / 'straight'), str(tmp_path / 'broken')
    train = [tools.python, 'tools/train.py', config, '--work-dir']

    proc = tools.run(train + [straight], tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Killed (SIGKILL) after iteration 3, in epoch 2: epoch_1.pth is the
    # last checkpoint.
    proc = tools.run(train + [broken], dict(tool_env, KILL_AT_ITER='3'))
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert sorted(os.listdir(broken)).count('epoch_1.pth') == 1
    assert not glob.glob(osp.join(broken, 'epoch_[23].pth'))

    proc = tools.run(train + [broken, '--resume'], tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 2' in proc.stdout + proc.stderr

    # The first process ran iterations 0-2, the resumed one 2-5 (0-based).
    records = tools.read_iters(broken)
    pids = list(dict.fromkeys(r['pid'] for r in records))
    assert len(pids) == 2
    assert [r['iter'] for r in records if r['pid'] == pids[0]] == [0, 1, 2]
    assert [r['iter'] for r in records if r['pid'] == pids[1]] == [2, 3, 4, 5]
    # Its losses from iteration 2 on are those of the uninterrupted run.
    ref = {r['iter']: r for r in tools.read_iters(straight)}
    for r in records:
        if r['pid'] == pids[1]:
            assert r['loss'] == ref[r['iter']]['loss'], r['iter']

    a = _weights(osp.join(straight, 'epoch_3.pth'))
    b = _weights(osp.join(broken, 'epoch_3.pth'))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # And training did move the weights.
    first = _weights(osp.join(straight, 'epoch_1.pth'))
    assert any(not torch.equal(first[k], a[k]) for k in a)
