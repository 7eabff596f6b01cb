"""FCOSHead as the region proposal network of mmdet's two-stage detectors.

Ours in the ``rpn_head`` slot of ``FasterRCNN`` (and of mmdet's stand-alone
``RPN``) against mmdet 3.3's FCOSHead in the same slot, with the same
weights: the RPN losses, the proposals, the RoI losses that follow from them
and the final detections are the same. (With ``norm_on_bbox``, mmdet's
training proposals are in units of the stride, ours in pixels: the RPN
losses and test-time results agree, the training proposals agree with
mmdet's eval-mode ones.) Plus the behaviour the slot needs:
class-agnostic proposals, at most ``max_per_img`` of them, detached from the
RoI head, images without boxes.

The models are the demo-sized configs of ``configs/fcos_rpn/`` (ResNet-18
with 16 base channels, 64-channel FPN and heads) on 64x96 inputs, so the
file runs in seconds.
"""
import copy
import math
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from fcos_mm.models.dense_heads import FCOSHead
from fcos_mm.registry import MODELS

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs',
                   'fcos_rpn')
TWO_STAGE = 'faster-rcnn_r18-w16_fpn-64_fcos-rpn_1xb8-300i_synthetic.py'
PROPOSAL = 'fcos-rpn_r18-w16_fpn-64_1xb8-300i_synthetic.py'
ASSIGNER_KEYS = ('regress_ranges', 'center_sampling', 'center_sample_radius')

# image 0: boxes of several sizes; image 1: two overlapping boxes
BOXES = [
    [[2., 3., 14., 13.], [10., 5., 60., 50.], [30., 20., 90., 62.],
     [50., 8., 70., 30.]],
    [[4., 4., 44., 36.], [20., 10., 52., 40.], [60., 30., 94., 58.]],
]
LABELS = [[0, 1, 2, 2], [2, 0, 1]]
METAS = [
    dict(
        img_path='data/a.jpg',
        img_id=1,
        img_shape=(64, 96),
        pad_shape=(64, 96),
        batch_input_shape=(64, 96),
        ori_shape=(51, 64),
        scale_factor=(1.5, 1.25)),
    dict(
        img_path='data/b.jpg',
        img_id=2,
        img_shape=(58, 90),
        pad_shape=(64, 96),
        batch_input_shape=(64, 96),
        ori_shape=(29, 45),
        scale_factor=(2.0, 2.0)),
]


def model_cfg(name=TWO_STAGE, plain_fcos=False):
    """The model config of ``configs/fcos_rpn/name``.

    With ``plain_fcos`` the head is the R50 configs' (no center sampling,
    IoU loss, exp regression, center-ness on the classification tower).
    """
    cfg = Config.fromfile(osp.join(CONFIGS, name)).model
    if plain_fcos:
        for key in ('norm_on_bbox', 'centerness_on_reg', 'conv_bias'):
            cfg.rpn_head.pop(key)
        cfg.rpn_head.loss_bbox = dict(type='IoULoss', loss_weight=1.0)
        cfg.train_cfg.rpn.assigner.center_sampling = False
    return cfg


def mmdet_cfg(cfg):
    """The same model with mmdet's FCOSHead as the RPN.

    mmdet's head takes the assigner settings as head kwargs and ignores
    ``train_cfg``; it gets mmdet's anchor ``train_cfg.rpn``, as in mmdet's
    own FCOS-RPN config.
    """
    cfg = copy.deepcopy(cfg)
    assigner = cfg.train_cfg.rpn.assigner
    cfg.rpn_head.type = 'mmdet.FCOSHead'
    for key in ASSIGNER_KEYS:
        cfg.rpn_head[key] = assigner[key]
    cfg.train_cfg.rpn = ConfigDict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            min_pos_iou=0.3,
            match_low_quality=True,
            ignore_iof_thr=-1),
        sampler=dict(
            type='RandomSampler',
            num=256,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False),
        allowed_border=-1,
        pos_weight=-1,
        debug=False)
    return cfg


def build(cfg):
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        return MODELS.build(copy.deepcopy(cfg))


def randomise(model, seed=0):
    """Spread-out RPN outputs: varied scores, sizes and centers."""
    g = torch.Generator().manual_seed(seed)
    # FasterRCNN.rpn_head; mmdet's stand-alone RPN calls it bbox_head
    head = getattr(model, 'rpn_head', None) or model.bbox_head
    with torch.no_grad():
        for name, param in head.named_parameters():
            if name.startswith('scales'):
                param.copy_(0.5 + torch.rand(param.shape, generator=g))
            elif 'gn' in name and name.endswith('weight'):
                param.copy_(1 + 0.1 * torch.randn(param.shape, generator=g))
            else:
                param.copy_(0.05 * torch.randn(param.shape, generator=g))
        head.conv_reg.bias.fill_(1.0 if head.norm_on_bbox else 2.0)


def build_pair(name=TWO_STAGE, plain_fcos=False):
    """Our detector and mmdet's (mmdet's FCOSHead as RPN), same weights."""
    cfg = model_cfg(name, plain_fcos)
    ours = build(cfg)
    ref = build(mmdet_cfg(cfg))
    assert type(ours.rpn_head if hasattr(ours, 'rpn_head') else
                ours.bbox_head) is FCOSHead
    torch.manual_seed(0)
    ref.init_weights()
    randomise(ref)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ours, ref


def data_samples(boxes=BOXES, labels=LABELS):
    samples = []
    for b, lab, meta in zip(boxes, labels, METAS):
        sample = DetDataSample(metainfo=meta)
        inst = InstanceData()
        inst.bboxes = torch.tensor(b, dtype=torch.float32).reshape(-1, 4)
        inst.labels = torch.tensor(lab, dtype=torch.long)
        sample.gt_instances = inst
        samples.append(sample)
    return samples


def images(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 64, 96, generator=g)


def rpn_samples(samples):
    """What TwoStageDetector gives the RPN: labels set to 0."""
    samples = copy.deepcopy(samples)
    for sample in samples:
        sample.gt_instances.labels = torch.zeros_like(
            sample.gt_instances.labels)
    return samples


def assert_results_equal(ours, ref):
    assert len(ours) == len(ref)
    for res, res_ref in zip(ours, ref):
        assert len(res) == len(res_ref) > 0
        assert torch.equal(res.labels, res_ref.labels)
        torch.testing.assert_close(
            res.bboxes, res_ref.bboxes, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(
            res.scores, res_ref.scores, rtol=1e-5, atol=1e-6)


def assert_losses_equal(ours, ref):
    assert set(ours) == set(ref)
    for key, value in ref.items():
        values = value if isinstance(value, list) else [value]
        for got, want in zip(
                ours[key] if isinstance(ours[key], list) else [ours[key]],
                values):
            torch.testing.assert_close(
                got, want, rtol=1e-5, atol=1e-6, msg=key)


# ---------------------------------------------------------------- parity
def test_rpn_loss_and_proposals_equal_mmdet():
    """The R50 configs' head (plain FCOS) in the slot of Faster R-CNN."""
    ours, ref = build_pair(plain_fcos=True)
    ours.train()
    ref.train()
    x = ours.extract_feat(images())
    proposal_cfg = ours.train_cfg.rpn_proposal
    losses, proposals = ours.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()), proposal_cfg=proposal_cfg)
    ref_losses, ref_proposals = ref.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()), proposal_cfg=proposal_cfg)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    assert_losses_equal(losses, ref_losses)
    assert_results_equal(proposals, ref_proposals)
    for res in proposals:
        # what StandardRoIHead reads: boxes, scores, labels
        assert set(res.keys()) == {'bboxes', 'scores', 'labels'}


def test_norm_on_bbox_proposals_are_pixels_in_training_too():
    """With ``norm_on_bbox`` (the demo configs' head) mmdet's FCOSHead
    multiplies its regression by the stride in eval mode only, so the
    proposals its ``loss_and_predict`` hands to the RoI head in training
    are in units of the stride: boxes 8-128x too small. Ours are pixels in
    both modes: its training proposals equal mmdet's eval-mode ones, and
    the losses equal mmdet's training losses."""
    ours, ref = build_pair(plain_fcos=False)
    assert ours.rpn_head.norm_on_bbox
    ours.train()
    ref.train()
    x = ours.extract_feat(images())
    proposal_cfg = ours.train_cfg.rpn_proposal
    losses, proposals = ours.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()), proposal_cfg=proposal_cfg)
    ref_losses, ref_train_proposals = ref.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()), proposal_cfg=proposal_cfg)
    assert_losses_equal(losses, ref_losses)
    ref.rpn_head.eval()
    ref_proposals = ref.rpn_head.predict_by_feat(
        *ref.rpn_head(x), batch_img_metas=METAS, cfg=proposal_cfg)
    assert_results_equal(proposals, ref_proposals)

    def mean_side(results):
        boxes = torch.cat([r.bboxes for r in results])
        return (boxes[:, 2:] - boxes[:, :2]).mean()

    assert mean_side(ref_train_proposals) < mean_side(proposals) / 4


@pytest.mark.parametrize('plain_fcos', [True, False])
def test_two_stage_losses_equal_mmdet(plain_fcos):
    ours, ref = build_pair(plain_fcos=plain_fcos)
    inputs, samples = images(), data_samples()
    # the RoI head samples proposals at random: the same seed for both
    torch.manual_seed(0)
    losses = ours.loss(inputs, copy.deepcopy(samples))
    torch.manual_seed(0)
    ref_losses = ref.loss(inputs, copy.deepcopy(samples))
    assert {'rpn_loss_cls', 'rpn_loss_bbox', 'rpn_loss_centerness',
            'loss_cls', 'loss_bbox', 'acc'} == set(losses)
    if plain_fcos:
        assert_losses_equal(losses, ref_losses)
    else:
        # the RPN losses agree; the RoI losses cannot, mmdet's RoI head
        # being trained on the shrunken proposals (test above)
        rpn = {k: v for k, v in losses.items() if k.startswith('rpn_')}
        assert_losses_equal(
            rpn, {k: v for k, v in ref_losses.items() if k in rpn})


def test_two_stage_predictions_equal_mmdet():
    ours, ref = build_pair()
    ours.eval()
    ref.eval()
    x = ours.extract_feat(images())
    # the proposals of test time (test_cfg.rpn), in the padded input frame
    proposals = ours.rpn_head.predict(x, data_samples(), rescale=False)
    ref_proposals = ref.rpn_head.predict(x, data_samples(), rescale=False)
    assert_results_equal(proposals, ref_proposals)
    # and the detections of the whole detector (rescaled)
    results = ours.predict(images(), data_samples())
    ref_results = ref.predict(images(), data_samples())
    assert_results_equal([r.pred_instances for r in results],
                         [r.pred_instances for r in ref_results])


def test_stand_alone_rpn_equals_mmdet():
    ours, ref = build_pair(PROPOSAL, plain_fcos=True)
    assert type(ours).__name__ == 'RPN'
    losses = ours.loss(images(), data_samples())
    ref_losses = ref.loss(images(), data_samples())
    assert_losses_equal(losses, ref_losses)
    ours.eval()
    ref.eval()
    results = ours.predict(images(), data_samples())
    ref_results = ref.predict(images(), data_samples())
    assert_results_equal([r.pred_instances for r in results],
                         [r.pred_instances for r in ref_results])


# -------------------------------------------------------------- training
def test_training_step_reaches_both_heads():
    torch.manual_seed(0)
    model = build(model_cfg())
    model.init_weights()
    model.train()
    losses = model.loss(images(), data_samples())
    for key, value in losses.items():
        assert math.isfinite(float(value)), (key, value)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for part in ('rpn_head', 'roi_head', 'backbone', 'neck'):
        grads = [
            p.grad for p in getattr(model, part).parameters()
            if p.requires_grad
        ]
        assert grads and all(g is not None for g in grads), part
        assert any(g.abs().sum() > 0 for g in grads), part


def test_nothing_flows_back_from_the_roi_head_into_the_proposals():
    torch.manual_seed(0)
    model = build(model_cfg())
    model.train()
    x = model.extract_feat(images())
    _, proposals = model.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()),
        proposal_cfg=model.train_cfg.rpn_proposal)
    for res in proposals:
        assert not res.bboxes.requires_grad
        assert not res.scores.requires_grad
    roi_losses = model.roi_head.loss(x, proposals, data_samples())
    sum(v for k, v in roi_losses.items() if 'loss' in k).backward()
    for name, param in model.rpn_head.named_parameters():
        assert param.grad is None, name


def test_proposals_are_class_agnostic_and_capped():
    cfg = model_cfg()
    assert cfg.rpn_head.num_classes == 1
    cfg.train_cfg.rpn_proposal.max_per_img = 7
    cfg.test_cfg.rpn.max_per_img = 5
    model = build(cfg)
    assert model.rpn_head.num_classes == 1
    assert model.rpn_head.conv_cls.out_channels == 1
    randomise(model)
    model.train()
    x = model.extract_feat(images())
    # gt of three classes: the RPN sees one
    _, proposals = model.rpn_head.loss_and_predict(
        x, rpn_samples(data_samples()),
        proposal_cfg=model.train_cfg.rpn_proposal)
    model.eval()
    test_proposals = model.rpn_head.predict(x, data_samples())
    for results, cap in ((proposals, 7), (test_proposals, 5)):
        for res in results:
            assert 0 < len(res) <= cap
            assert (res.labels == 0).all()
            assert (res.scores[:-1] >= res.scores[1:]).all()
    # the score of a proposal is sigmoid(cls) * sigmoid(center-ness), as
    # in detection: the same as the head's predict_by_feat with the cfg
    outs = model.rpn_head(x)
    direct = model.rpn_head.predict_by_feat(
        *outs, batch_img_metas=METAS, cfg=model.test_cfg.rpn)
    assert_results_equal(test_proposals, direct)
    # without NMS or any cut, the scores are exactly the products at all
    # points of each image
    everything = model.rpn_head.predict_by_feat(
        *outs,
        batch_img_metas=METAS,
        cfg=dict(nms_pre=-1, score_thr=0, min_bbox_size=-1),
        with_nms=False)
    for i, res in enumerate(everything):
        products = torch.cat([
            (cls[i].sigmoid() * ctr[i].sigmoid()).flatten()
            for cls, ctr in zip(outs[0], outs[2])
        ])
        torch.testing.assert_close(
            res.scores.sort().values, products.detach().sort().values)


def test_image_without_boxes():
    ours, ref = build_pair(plain_fcos=True)
    boxes, labels = [BOXES[0], []], [LABELS[0], []]
    torch.manual_seed(0)
    losses = ours.loss(images(), data_samples(boxes, labels))
    torch.manual_seed(0)
    ref_losses = ref.loss(images(), data_samples(boxes, labels))
    assert_losses_equal(losses, ref_losses)
    for key, value in losses.items():
        assert math.isfinite(float(value)), key
    # a batch without any box
    losses = ours.loss(images(), data_samples([[], []], [[], []]))
    for key, value in losses.items():
        assert math.isfinite(float(value)), key
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_mmdet_anchor_train_cfg_is_refused_with_a_clear_message():
    """mmdet's FCOS-RPN config keeps the anchor assigner in train_cfg.rpn;
    our head builds train_cfg.assigner and says what to put there."""
    cfg = model_cfg()
    cfg.train_cfg.rpn = mmdet_cfg(cfg).train_cfg.rpn
    with pytest.raises(ValueError, match='point assigner'):
        build(cfg)


def test_mmdet_head_is_built_by_name_under_mmdet_scope():
    """The guard of the parity tests: the reference really is mmdet's."""
    cfg = mmdet_cfg(model_cfg())
    with DefaultScope.overwrite_default_scope('mmdet'):
        ref = MMDET_MODELS.build(cfg)
    assert type(ref.rpn_head) is not FCOSHead
    assert type(ref.rpn_head).__module__.startswith('mmdet.')
