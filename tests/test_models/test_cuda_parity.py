"""The training target path on a GPU (skipped cleanly without one): the
assigner never synchronises with the host (once a batch shape has been seen:
its constant tables are copied to the GPU on first use), its targets equal
those computed on the CPU bit for bit, and the head's losses equal mmdet's
on CUDA."""
import math
import os.path as osp

import pytest
import torch
from mmdet.models.task_modules import MlvlPointGenerator
from mmengine.config import Config

from fcos_mm.benchmarks import random_batch
from fcos_mm.benchmarks.benchmark_train import benchmark_train
from fcos_mm.models.task_modules import FCOSPointAssigner

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA GPU')

STRIDES = (8, 16, 32, 64, 128)
REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO_CONFIG = osp.join(
    REPO, 'configs', 'demo', 'fcos_r18-w16_fpn-64_gn-head-center-normbbox-'
    'centeronreg-giou_1xb8-1000i_synthetic.py')


@pytest.mark.parametrize('center_sampling', [False, True])
def test_assigner_is_sync_free_and_equals_the_cpu(center_sampling):
    sizes = [(-(-320 // s), -(-480 // s)) for s in STRIDES]
    points = MlvlPointGenerator(STRIDES, offset=0.5).grid_priors(
        sizes, dtype=torch.float32, device='cpu')
    _, samples = random_batch(2, (320, 480), 300, 80)
    boxes = [s.gt_instances.bboxes for s in samples]
    labels = [s.gt_instances.labels for s in samples]
    assigner = FCOSPointAssigner(
        center_sampling=center_sampling, max_pairs=4096)
    want = assigner.assign_batch(points, STRIDES, boxes, labels, 80, sizes)
    cuda_points = [p.cuda() for p in points]
    cuda_boxes = [b.cuda() for b in boxes]
    cuda_labels = [lab.cuda() for lab in labels]
    # the first call of a layout copies its constant tables to the GPU once
    assigner.assign_batch(cuda_points, STRIDES, cuda_boxes, cuda_labels, 80,
                          sizes, validate=False)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')  # any sync raises
    try:
        got = assigner.assign_batch(cuda_points, STRIDES, cuda_boxes,
                                    cuda_labels, 80, sizes, validate=False)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    for a, b in zip(got, want):
        assert torch.equal(a.cpu(), b)
    assert (want.labels < 80).sum() > 100


@pytest.mark.parametrize('amp', [False, True])
def test_train_step_on_cuda_equals_mmdet(amp):
    # the demo's small model (all four improvements), both sides from the
    # same weights; fp16 autocast with a dynamic loss scale with amp
    cfg = Config.fromfile(DEMO_CONFIG)
    results = benchmark_train(
        cfg.model,
        device='cuda',
        amp=amp,
        num_gts=30,
        shape=(256, 320),
        num_iters=2,
        num_warmup=1)
    mm, ours = results['mmdet'], results['ours']
    for key, value in mm['losses'].items():
        assert math.isfinite(ours['losses'][key])
        assert ours['losses'][key] == pytest.approx(
            value, rel=1e-2 if amp else 1e-5), key
    assert ours['syncs'] <= mm['syncs']
