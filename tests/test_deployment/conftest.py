"""Shared by the deployment tests: tiny FCOS detectors with random weights
whose scores are spread out (so that few are tied), and a comparison of
exported detections with PyTorch's."""
import functools
import os
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import init_default_scope

from fcos_mm.registry import MODELS

CLASSES = ('square', 'disc', 'triangle')

#: The OpenVINO tests run in a pytest process of their own
#: (test_openvino_process.py sets this variable there): in the whole
#: suite's process, OpenVINO segfaulted (2-core AMD EPYC, AVX512-BF16)
#: after the earlier tests had loaded their libraries, while alone or after
#: tests/test_apis and tests/test_benchmarks it passes.
OPENVINO_CHILD = 'FCOS_MM_OPENVINO_TESTS'
collect_ignore = ([] if os.environ.get(OPENVINO_CHILD) == '1' else
                  ['test_openvino.py'])


def tiny_model_cfg(r50_model,
                   norm_on_bbox=True,
                   centerness_on_reg=True,
                   use_centerness=True,
                   score_thr=0.3,
                   nms_pre=60,
                   max_per_img=15):
    """The demo's layout (R18, FPN P3-P7, GN head) at 8-16 channels: the
    R50 config's model (``r50_model``, the fixture) shrunk."""
    return r50_model(
        data_preprocessor=dict(
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True),
        backbone=dict(
            depth=18,
            base_channels=8,
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            style='pytorch',
            init_cfg=None),
        neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
        bbox_head=dict(
            num_classes=len(CLASSES),
            in_channels=16,
            feat_channels=16,
            stacked_convs=2,
            norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
            norm_on_bbox=norm_on_bbox,
            centerness_on_reg=centerness_on_reg,
            use_centerness=use_centerness,
            conv_bias=True),
        test_cfg=dict(
            nms_pre=nms_pre, score_thr=score_thr, max_per_img=max_per_img))


def build_tiny_detector(r50_model, seed=0, **kwargs):
    """A tiny FCOS in eval mode: Kaiming convs with random BatchNorm
    statistics, head convs of std 0.3 and zero class bias (scores around
    0.5, spread out)."""
    init_default_scope('fcos_mm')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg(r50_model, **kwargs))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        head = model.bbox_head
        for module in head.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_(0, 0.3)
                module.bias.normal_(0, 0.1)
        head.conv_cls.bias.zero_()
        head.conv_reg.weight.mul_(0.3)  # distances of ~1-3 strides
    model.dataset_meta = dict(classes=CLASSES)
    return model.eval()


@pytest.fixture(scope='module')
def tiny_detector(r50_model):
    """The factory :func:`build_tiny_detector`."""
    return functools.partial(build_tiny_detector, r50_model)


def assert_same_detections(reference, dets, labels, img_size):
    """Exported ``dets`` ``(K, 5)`` / ``labels`` ``(K,)`` of one image
    against PyTorch's ``InstanceData``: the same count, scores within 1e-4,
    and for rows whose score is not tied (within 1e-4 of a neighbour) the
    same label and a box within 1e-3 of the image size; padding rows score
    0, label -1, box zeros."""
    dets, labels = torch.as_tensor(dets), torch.as_tensor(labels)
    num = len(reference)
    valid = labels >= 0
    assert int(valid.sum()) == num, (int(valid.sum()), num)
    assert bool(valid[:num].all()), 'padding must come last'
    torch.testing.assert_close(
        dets[:num, 4], reference.scores, atol=1e-4, rtol=0)
    scores = reference.scores
    gaps = torch.full((num, ), float('inf'))
    if num > 1:
        step = (scores[1:] - scores[:-1]).abs()
        gaps[1:] = torch.minimum(gaps[1:], step)
        gaps[:-1] = torch.minimum(gaps[:-1], step)
    untied = gaps > 1e-4
    assert untied.float().mean() > 0.5, 'too many tied scores to compare'
    assert torch.equal(labels[:num][untied], reference.labels[untied])
    box_tol = 1e-3 * img_size
    diff = (dets[:num, :4][untied] - reference.bboxes[untied]).abs()
    assert float(diff.max()) <= box_tol
    for row in (~untied).nonzero()[:, 0].tolist():
        # a tied row may swap with its tie partner: it must be one of them
        near = (scores - dets[row, 4]).abs() <= 2e-4
        same = (reference.labels[near] == labels[row]) & (
            (reference.bboxes[near] - dets[row, :4]).abs().max(dim=1)[0] <=
            box_tol)
        assert bool(same.any()), f'row {row} has no tied counterpart'
    assert bool((dets[num:] == 0).all())
    assert bool((labels[num:] == -1).all())


@pytest.fixture(scope='module')
def deploy(r50_model):
    """The helpers above, for the test modules."""
    return SimpleNamespace(
        classes=CLASSES,
        model_cfg=functools.partial(tiny_model_cfg, r50_model),
        build=functools.partial(build_tiny_detector, r50_model),
        assert_same=assert_same_detections)
