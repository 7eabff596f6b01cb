"""The FCOS detector: mmdet's FCOS state dicts load into ours, and both give
the same losses, detections and raw outputs (ResNet-18, FPN with 8 channels,
a tiny head, 64x96 inputs)."""
import copy
import os.path as osp
import warnings

import mmdet
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from fcos_mm.models.dense_heads import FCOSHead
from fcos_mm.models.detectors import FCOS
from fcos_mm.registry import MODELS

RANGES = ((-1, 12), (12, 24), (24, 48), (48, 96), (96, 1e8))
MODEL = dict(
    type='FCOS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[102.9801, 115.9465, 122.7717],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[64, 128, 256, 512],
        out_channels=8,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=3,
        in_channels=8,
        stacked_convs=2,
        feat_channels=8,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True)),
    test_cfg=dict(
        nms_pre=100,
        min_bbox_size=0,
        score_thr=0.3,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=20))


def build_pair():
    """mmdet's FCOS and ours from the same config, ours with its weights."""
    mm_cfg = copy.deepcopy(MODEL)
    mm_cfg['bbox_head']['regress_ranges'] = RANGES
    ours_cfg = copy.deepcopy(MODEL)
    ours_cfg['train_cfg'] = dict(
        assigner=dict(type='FCOSPointAssigner', regress_ranges=RANGES))
    with DefaultScope.overwrite_default_scope('mmdet'):
        mm_model = MMDET_MODELS.build(ConfigDict(mm_cfg))
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        ours = MODELS.build(ConfigDict(ours_cfg))
    torch.manual_seed(0)
    with torch.no_grad():
        head = mm_model.bbox_head
        for conv in (head.conv_cls, head.conv_reg, head.conv_centerness):
            conv.weight.normal_(0, 0.2)
        head.conv_cls.bias.zero_()
        head.conv_reg.bias.fill_(2.0)
    ours.load_state_dict(mm_model.state_dict(), strict=True)
    return mm_model, ours


def batch(training):
    """Two images of different sizes through a detector's preprocessor."""
    g = torch.Generator().manual_seed(5)
    images = [
        torch.randint(0, 256, (3, 64, 96), generator=g, dtype=torch.uint8),
        torch.randint(0, 256, (3, 60, 90), generator=g, dtype=torch.uint8)
    ]
    boxes = [[[2., 3., 14., 13.], [10., 5., 60., 50.], [0., 0., 96., 64.]],
             [[4., 4., 44., 36.], [20., 10., 52., 40.]]]
    labels = [[0, 1, 2], [2, 0]]
    samples = []
    for i, (img, b, lab) in enumerate(zip(images, boxes, labels)):
        sample = DetDataSample(
            metainfo=dict(
                img_id=i,
                img_path=f'{i}.jpg',
                img_shape=tuple(img.shape[1:]),
                ori_shape=(img.shape[1] // 2, img.shape[2] // 2),
                scale_factor=(2.0, 2.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(b), labels=torch.tensor(lab))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


def test_builds_our_classes_under_our_scope():
    _, ours = build_pair()
    assert type(ours) is FCOS
    assert type(ours.bbox_head) is FCOSHead
    # backbone and neck fall through to mmdet's
    assert type(ours.backbone).__module__.startswith('mmdet.')
    assert ours.bbox_head.assigner.regress_ranges[0] == (-1, 12)


def test_builds_our_head_under_another_default_scope():
    cfg = copy.deepcopy(MODEL)
    cfg.pop('type')
    cfg['bbox_head']['train_cfg'] = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = FCOS(**cfg)
    assert type(model.bbox_head) is FCOSHead
    # mmdet's ResNet through the fall-through
    assert type(model.backbone).__name__ == 'ResNet'


def test_mmdet_state_dict_loads_strictly_and_losses_match():
    mm_model, ours = build_pair()
    mm_model.train()
    ours.train()
    data = ours.data_preprocessor(batch(True), True)
    mm_data = mm_model.data_preprocessor(batch(True), True)
    torch.testing.assert_close(data['inputs'], mm_data['inputs'])
    losses = ours(**data, mode='loss')
    ref = mm_model(**mm_data, mode='loss')
    assert set(losses) == set(ref) == {
        'loss_cls', 'loss_bbox', 'loss_centerness'
    }
    for key in ref:
        torch.testing.assert_close(losses[key], ref[key], rtol=1e-5, atol=0)


def test_predict_and_tensor_modes_match_mmdet():
    mm_model, ours = build_pair()
    mm_model.eval()
    ours.eval()
    data = ours.data_preprocessor(batch(False), False)
    mm_data = mm_model.data_preprocessor(batch(False), False)
    with torch.no_grad():
        results = ours(**data, mode='predict')
        ref = mm_model(**mm_data, mode='predict')
        outs = ours(data['inputs'], mode='tensor')
        mm_outs = mm_model(mm_data['inputs'], mode='tensor')
    for sample, sample_ref in zip(results, ref):
        assert isinstance(sample, DetDataSample)
        pred, pred_ref = sample.pred_instances, sample_ref.pred_instances
        assert len(pred) > 0
        assert torch.equal(pred.labels, pred_ref.labels)
        torch.testing.assert_close(pred.bboxes, pred_ref.bboxes)
        torch.testing.assert_close(pred.scores, pred_ref.scores)
        # rescaled to the original image (scale factor 2)
        assert pred.bboxes[:, 2].max() <= sample.ori_shape[1] + 1e-4
    assert len(outs) == 3
    for level_outs, level_ref in zip(outs, mm_outs):
        for out, out_ref in zip(level_outs, level_ref):
            torch.testing.assert_close(out, out_ref)


def test_strict_loading_refuses_a_missing_predictor():
    # strict loading refuses a state dict that lacks the head
    mm_model, ours = build_pair()
    state = {
        k: v
        for k, v in mm_model.state_dict().items()
        if not k.startswith('bbox_head.conv_cls')
    }
    with pytest.raises(RuntimeError, match='conv_cls'):
        ours.load_state_dict(state, strict=True)


MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                         'fcos')


@pytest.mark.parametrize('name', [
    'fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py'
])
def test_mmdet_configs_and_weights_work_with_ours(name):
    """mmdet's own full-size FCOS config builds ours unchanged (the head's
    assigner kwargs are deprecated, not refused), and mmdet's R50 model
    loads into ours strictly with equal losses."""
    model_cfg = Config.fromfile(osp.join(MMDET_CONFIGS, name)).model
    model_cfg.backbone.init_cfg = None  # never download
    with DefaultScope.overwrite_default_scope('mmdet'):
        mm_model = MMDET_MODELS.build(copy.deepcopy(model_cfg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', DeprecationWarning)
        with DefaultScope.overwrite_default_scope('fcos_mm'):
            ours = MODELS.build(copy.deepcopy(model_cfg))
    assert type(ours.bbox_head) is FCOSHead
    head_cfg = model_cfg.bbox_head
    deprecated = [
        w for w in caught if 'set them in train_cfg.assigner' in str(w.message)
    ]
    assert len(deprecated) == int('center_sampling' in head_cfg)
    assert ours.bbox_head.assigner.center_sampling == head_cfg.get(
        'center_sampling', False)
    ours.load_state_dict(mm_model.state_dict(), strict=True)
    mm_model.train()
    ours.train()
    data = ours.data_preprocessor(batch(True), True)
    losses = ours(**data, mode='loss')
    ref = mm_model(**data, mode='loss')
    for key in ref:
        torch.testing.assert_close(losses[key], ref[key], rtol=1e-5, atol=0)
