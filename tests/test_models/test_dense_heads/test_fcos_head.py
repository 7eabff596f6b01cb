"""FCOSHead against mmdet 3.3's FCOSHead, built beside it with the same
weights, plus the behaviour mmdet has no counterpart for.

Sizes are tiny so the file runs in seconds: 8 channels, GN with 4 groups,
2 stacked convs, 3 classes, 64x96 images with strides 8..128. The regress
ranges are scaled down to those images so every level gets positives and
boxes are too small or too large for some levels.
"""
import copy
import warnings
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from fcos_mm.models.dense_heads import FCOSHead
from fcos_mm.models.utils import flatten_levels
from fcos_mm.registry import MODELS

STRIDES = (8, 16, 32, 64, 128)
FEAT_SIZES = ((8, 12), (4, 6), (2, 3), (1, 2), (1, 1))  # a 64x96 batch
RANGES = ((-1, 12), (12, 24), (24, 48), (48, 96), (96, 1e8))
NUM_CLASSES = 3
TEST_CFG = ConfigDict(
    nms_pre=40,
    score_thr=0.3,
    min_bbox_size=3,
    nms=dict(type='nms', iou_threshold=0.5),
    max_per_img=25)
COMMON = dict(
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    strides=STRIDES,
    norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
    test_cfg=TEST_CFG)
ASSIGNER_KEYS = ('regress_ranges', 'center_sampling', 'center_sample_radius')

VARIANTS = {
    'vanilla':
    dict(),
    'center_sampling':
    dict(center_sampling=True, center_sample_radius=1.5),
    # mmdet's "tricks" config: everything but DCN
    'improvements':
    dict(
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        conv_bias=True,
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0)),
}

# image 0: boxes of all sizes (some fit no level's range, or fall between
# points); image 1: two overlapping boxes (smallest area wins)
BOXES = [
    [[2., 3., 14., 13.], [10., 5., 60., 50.], [30., 20., 90., 62.],
     [40.5, 40.5, 42., 43.], [0., 0., 96., 64.], [50., 8., 70., 30.]],
    [[4., 4., 44., 36.], [20., 10., 52., 40.], [60., 30., 94., 58.]],
]
LABELS = [[0, 1, 2, 1, 0, 2], [2, 0, 1]]
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


def build_pair(variant='vanilla', **overrides):
    """mmdet's head and ours with the same config and the same weights."""
    opts = dict(COMMON, **copy.deepcopy(VARIANTS[variant]), **overrides)
    mm_cfg = dict(type='FCOSHead', regress_ranges=RANGES, **opts)
    assigner = dict(type='FCOSPointAssigner', regress_ranges=RANGES)
    for key in ASSIGNER_KEYS[1:]:
        if key in opts:
            assigner[key] = opts.pop(key)
    ours_cfg = dict(
        type='FCOSHead', train_cfg=dict(assigner=assigner), **opts)
    with DefaultScope.overwrite_default_scope('mmdet'):
        mm_head = MMDET_MODELS.build(mm_cfg)
    with DefaultScope.overwrite_default_scope('fcos_mm'):
        ours = MODELS.build(ours_cfg)
    assert type(ours) is FCOSHead and type(mm_head) is not FCOSHead
    randomise(mm_head)
    ours.load_state_dict(mm_head.state_dict(), strict=True)
    return mm_head, ours


def randomise(head, seed=0):
    """Weights with spread-out outputs: varied scores, sizes and centers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in head.named_parameters():
            if name.startswith('scales'):
                param.copy_(0.5 + torch.rand(param.shape, generator=g))
            elif 'gn' in name and name.endswith('weight'):
                param.copy_(1 + 0.1 * torch.randn(param.shape, generator=g))
            else:
                param.copy_(0.2 * torch.randn(param.shape, generator=g))
        head.conv_reg.bias.fill_(1.0 if head.norm_on_bbox else 2.0)


def features(seed=1, num_imgs=2):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(num_imgs, 8, h, w, generator=g) for h, w in FEAT_SIZES]


def gt_instances(boxes=BOXES, labels=LABELS):
    out = []
    for b, lab in zip(boxes, labels):
        inst = InstanceData()
        inst.bboxes = torch.tensor(b, dtype=torch.float32).reshape(-1, 4)
        inst.labels = torch.tensor(lab, dtype=torch.long)
        out.append(inst)
    return out


def data_samples(boxes=BOXES, labels=LABELS):
    samples = []
    for inst, meta in zip(gt_instances(boxes, labels), METAS):
        sample = DetDataSample(metainfo=meta)
        sample.gt_instances = inst
        samples.append(sample)
    return samples


def assert_losses_equal(ours, ref):
    assert set(ours) == set(ref)
    for key in ref:
        assert ours[key].dtype == torch.float32
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------- structure
def test_same_parameters_and_init_as_mmdet():
    mm_head, ours = build_pair('improvements', dcn_on_last_conv=True)
    assert list(ours.state_dict()) == list(mm_head.state_dict())
    shapes = {k: v.shape for k, v in mm_head.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == shapes
    assert 'cls_convs.1.conv.conv_offset.weight' in shapes  # DCNv2
    # the focal prior: sigmoid(bias) = 0.01, and zero DCN offsets
    ours.init_weights()
    bias = ours.conv_cls.bias
    torch.testing.assert_close(bias.sigmoid(), torch.full_like(bias, 0.01))
    offset = ours.cls_convs[1].conv.conv_offset.weight
    assert torch.equal(offset, torch.zeros_like(offset))


def test_forward_shapes_and_pixel_units():
    mm_head, ours = build_pair('improvements')
    feats = features()
    cls_scores, bbox_preds, centernesses = ours(feats)
    mm_head.eval()  # mmdet multiplies by the stride in eval mode only
    mm_cls, mm_bbox, mm_ctr = mm_head(feats)
    for lvl, (h, w) in enumerate(FEAT_SIZES):
        assert cls_scores[lvl].shape == (2, NUM_CLASSES, h, w)
        assert bbox_preds[lvl].shape == (2, 4, h, w)
        assert centernesses[lvl].shape == (2, 1, h, w)
        # ours is in pixels in training mode too
        torch.testing.assert_close(bbox_preds[lvl], mm_bbox[lvl])
        torch.testing.assert_close(cls_scores[lvl], mm_cls[lvl])
        torch.testing.assert_close(centernesses[lvl], mm_ctr[lvl])
    with pytest.raises(ValueError, match='5 strides'):
        ours(feats[:4])


def test_flatten_levels_is_image_major_level_major():
    maps = [torch.arange(2 * 3 * h * w).reshape(2, 3, h, w).float()
            for h, w in ((2, 3), (1, 2))]
    flat = flatten_levels(maps)
    assert flat.shape == (2, 6 + 2, 3)
    # image 1, level 1, point (0, 1), channel 2
    assert flat[1, 6 + 1, 2] == maps[1][1, 2, 0, 1]
    # image 0, level 0, point (1, 2) is the 6th point: row-major
    assert flat[0, 5, 0] == maps[0][0, 0, 1, 2]


# --------------------------------------------------------------- losses
@pytest.mark.parametrize('variant', list(VARIANTS))
def test_losses_and_gradients_equal_mmdet(variant):
    mm_head, ours = build_pair(variant)
    feats = features()
    ref = mm_head.loss(feats, data_samples())
    losses = ours.loss(feats, data_samples())
    assert_losses_equal(losses, ref)
    assert all(v.item() > 0 for v in losses.values())
    sum(ref.values()).backward()
    sum(losses.values()).backward()
    for (name, p_ref), (_, p) in zip(mm_head.named_parameters(),
                                     ours.named_parameters()):
        torch.testing.assert_close(
            p.grad, p_ref.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_dcn_on_last_conv_losses_equal_mmdet():
    mm_head, ours = build_pair('vanilla', dcn_on_last_conv=True)
    feats = features()
    assert_losses_equal(
        ours.loss(feats, data_samples()), mm_head.loss(feats,
                                                       data_samples()))


@pytest.mark.parametrize('variant', ['vanilla', 'improvements'])
def test_image_without_boxes_equals_mmdet(variant):
    mm_head, ours = build_pair(variant)
    feats = features()
    boxes, labels = [BOXES[0], []], [LABELS[0], []]
    assert_losses_equal(
        ours.loss(feats, data_samples(boxes, labels)),
        mm_head.loss(feats, data_samples(boxes, labels)))


def test_zero_positive_batch_is_finite_with_gradients():
    mm_head, ours = build_pair('vanilla')
    feats = [f.requires_grad_() for f in features()]
    # no boxes at all, and a box no point falls inside
    for boxes, labels in (([[], []], [[], []]),
                          ([[[40.5, 40.5, 42., 43.]], []], [[1], []])):
        losses = ours.loss(feats, data_samples(boxes, labels))
        ref = mm_head.loss(feats, data_samples(boxes, labels))
        assert_losses_equal(losses, ref)
        assert losses['loss_bbox'].item() == 0
        assert losses['loss_centerness'].item() == 0
        ours.zero_grad()
        total = sum(losses.values())
        total.backward()
        for name, p in ours.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # the box branch still gets a (zero) gradient
        assert torch.equal(ours.conv_reg.weight.grad,
                           torch.zeros_like(ours.conv_reg.weight))


def test_losses_under_bf16_autocast():
    _, ours = build_pair('improvements')
    feats = features()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = ours(feats)
        assert outs[0][0].dtype == torch.bfloat16
        assert outs[1][0].dtype == torch.float32
        losses = ours.loss(feats, data_samples())
        results = ours.predict(feats, data_samples(), rescale=True)
    fp32 = ours.loss(feats, data_samples())
    for key, value in losses.items():
        assert value.dtype == torch.float32 and torch.isfinite(value)
        # bf16 convs: the same losses to bf16's precision
        torch.testing.assert_close(value, fp32[key], rtol=0.05, atol=0.01)
    sum(losses.values()).backward()
    assert torch.isfinite(ours.conv_cls.weight.grad).all()
    assert results[0].bboxes.dtype == torch.float32
    assert len(results[0]) > 0


# ----------------------------------------------------------- predictions
def assert_results_equal(ours, ref):
    assert len(ours) == len(ref)
    for res, res_ref in zip(ours, ref):
        assert set(res.keys()) == {'bboxes', 'scores', 'labels'}
        assert torch.equal(res.labels, res_ref.labels)
        torch.testing.assert_close(res.bboxes, res_ref.bboxes, rtol=1e-5,
                                   atol=1e-5)
        torch.testing.assert_close(res.scores, res_ref.scores, rtol=1e-5,
                                   atol=1e-7)


@pytest.mark.parametrize('variant', list(VARIANTS))
@pytest.mark.parametrize('rescale', [True, False])
def test_predictions_equal_mmdet(variant, rescale):
    mm_head, ours = build_pair(variant)
    mm_head.eval()
    ours.eval()
    feats = features()
    ref = mm_head.predict(feats, data_samples(), rescale=rescale)
    results = ours.predict(feats, data_samples(), rescale=rescale)
    assert_results_equal(results, ref)
    # the settings bite: NMS, the score threshold and max_per_img all cut
    assert 5 < len(results[0]) <= TEST_CFG['max_per_img']
    assert (results[0].scores > 0).all()
    # boxes clipped to each image's own img_shape before rescaling
    if not rescale:
        assert results[1].bboxes[:, 2].max() <= 90
        assert results[1].bboxes[:, 3].max() <= 58


@pytest.mark.parametrize('cfg', [
    dict(nms_pre=1000, score_thr=0.05, min_bbox_size=0),
    dict(nms_pre=5, score_thr=0.0, min_bbox_size=-1, max_per_img=3),
    dict(score_thr=0.99),  # nothing survives
])
def test_other_test_cfgs_equal_mmdet(cfg):
    mm_head, ours = build_pair('center_sampling')
    mm_head.eval()
    feats = features(seed=3)
    test_cfg = ConfigDict(dict(TEST_CFG, **cfg))
    outs = ours(feats)
    mm_outs = mm_head(feats)
    results = ours.predict_by_feat(
        *outs, batch_img_metas=METAS, cfg=test_cfg, rescale=True)
    ref = mm_head.predict_by_feat(
        *mm_outs, batch_img_metas=METAS, cfg=test_cfg, rescale=True)
    assert_results_equal(results, ref)
    # without NMS every thresholded candidate comes back
    no_nms = ours.predict_by_feat(
        *outs, batch_img_metas=METAS, cfg=test_cfg, with_nms=False)
    ref = mm_head.predict_by_feat(
        *mm_outs, batch_img_metas=METAS, cfg=test_cfg, with_nms=False)
    assert_results_equal(no_nms, ref)


def test_loss_and_predict():
    mm_head, ours = build_pair('vanilla')
    feats = features()
    losses, results = ours.loss_and_predict(feats, data_samples(),
                                            TEST_CFG)
    ref_losses, ref_results = mm_head.loss_and_predict(
        feats, data_samples(), TEST_CFG)
    assert_losses_equal(losses, ref_losses)
    assert_results_equal(results, ref_results)


# ------------------------------------------------------ no center-ness
def test_without_centerness():
    mm_head, _ = build_pair('vanilla')
    ours = FCOSHead(
        **COMMON,
        use_centerness=False,
        train_cfg=dict(
            assigner=dict(type='FCOSPointAssigner', regress_ranges=RANGES)))
    state = {
        k: v
        for k, v in mm_head.state_dict().items()
        if not k.startswith('conv_centerness')
    }
    ours.load_state_dict(state, strict=True)
    assert not hasattr(ours, 'conv_centerness')
    assert ours.loss_centerness is None
    feats = features()
    outs = ours(feats)
    assert len(outs) == 3 and outs[2] is None

    losses = ours.loss(feats, data_samples())
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    ref = mm_head.loss(feats, data_samples())
    torch.testing.assert_close(losses['loss_cls'], ref['loss_cls'])
    # the box loss is the plain mean of -log IoU over the positives, with
    # mmdet's own targets
    mm_cls, mm_bbox, _ = mm_head(feats)
    points = mm_head.prior_generator.grid_priors(FEAT_SIZES, device='cpu')
    labels, targets = mm_head.get_targets(points, gt_instances())
    labels, targets = torch.cat(labels), torch.cat(targets)
    preds = torch.cat([b.permute(0, 2, 3, 1).reshape(-1, 4) for b in mm_bbox])
    all_points = torch.cat([p.repeat(2, 1) for p in points])
    pos = labels < NUM_CLASSES
    iou_loss = MMDET_MODELS.build(dict(type='IoULoss', reduction='none'))
    expected = iou_loss(
        mm_head.bbox_coder.decode(all_points[pos], preds[pos]),
        mm_head.bbox_coder.decode(all_points[pos], targets[pos])).mean()
    torch.testing.assert_close(losses['loss_bbox'], expected, rtol=1e-5,
                               atol=0)

    # scores are the classification scores alone (mmdet's path without
    # score factors)
    ours.eval()
    mm_head.eval()
    results = ours.predict(feats, data_samples(), rescale=True)
    ref = mm_head.predict_by_feat(
        mm_cls, mm_bbox, None, batch_img_metas=METAS, rescale=True)
    assert_results_equal(results, ref)


# --------------------------------------------------- config and errors
def test_deprecated_head_kwargs_fill_the_assigner():
    with pytest.warns(DeprecationWarning, match='train_cfg.assigner'):
        head = FCOSHead(
            **COMMON,
            regress_ranges=RANGES,
            center_sampling=True,
            center_sample_radius=2.0)
    assert head.assigner.center_sampling is True
    assert head.assigner.center_sample_radius == 2.0
    assert [tuple(r) for r in head.assigner.regress_ranges] == list(RANGES)
    # given in both places: refuse rather than guess
    with pytest.raises(ValueError, match='center_sampling given both'):
        FCOSHead(
            **COMMON,
            center_sampling=True,
            train_cfg=dict(
                assigner=dict(
                    type='FCOSPointAssigner', center_sampling=False)))
    # no train_cfg: FCOS's default assigner
    head = FCOSHead(**COMMON)
    assert head.assigner.center_sampling is False
    assert head.assigner.regress_ranges[0] == (-1, 64)


def test_mmdet_style_assigner_and_bad_kwargs_are_refused():
    mmdet_train_cfg = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1))
    with pytest.raises(ValueError, match='MaxIoUAssigner'):
        FCOSHead(**COMMON, train_cfg=mmdet_train_cfg)
    with pytest.raises(ValueError, match='use_sigmoid'):
        FCOSHead(**COMMON, loss_cls=dict(type='CrossEntropyLoss'))
    with pytest.raises(ValueError, match='conv_bias'):
        FCOSHead(**COMMON, conv_bias='yes')
    _, ours = build_pair('vanilla')
    ours.test_cfg = None
    with pytest.raises(ValueError, match='test_cfg'):
        ours.predict(features(), data_samples())


@pytest.mark.parametrize('box, label, message', [
    ([30., 20., 30., 62.], 0, 'is degenerate'),
    ([30., 20., 25., 62.], 0, 'is degenerate'),
    ([30., float('nan'), 40., 62.], 0, 'NaN or infinite'),
    ([30., 20., float('inf'), 62.], 0, 'NaN or infinite'),
    ([30., 20., 40., 62.], 3, r'label outside \[0, 3\)'),
    ([30., 20., 40., 62.], -1, r'label outside \[0, 3\)'),
])
def test_bad_ground_truth_names_image_and_box(box, label, message):
    _, ours = build_pair('vanilla')
    boxes = [BOXES[0], [BOXES[1][0], box]]
    labels = [LABELS[0], [LABELS[1][0], label]]
    with pytest.raises(ValueError, match=message) as info:
        ours.loss(features(), data_samples(boxes, labels))
    text = str(info.value)
    assert "image 'data/b.jpg' (batch index 1)" in text
    assert 'gt_bboxes[1] = [30.0' in text
    # without a path the image id names the image
    metas = [dict(m) for m in METAS]
    del metas[1]['img_path']
    points = ours.prior_generator.grid_priors(FEAT_SIZES, device='cpu')
    with pytest.raises(ValueError, match='image 2 '):
        ours.get_targets(points, gt_instances(boxes, labels), metas)


def test_bad_ground_truth_shapes():
    _, ours = build_pair('vanilla')
    inst = SimpleNamespace(
        bboxes=torch.zeros(2, 5), labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'must be \(G, 4\)'):
        ours.get_targets([torch.zeros(1, 2)], [inst])
    # InstanceData itself refuses unequal lengths; a duck-typed one may not
    inst = SimpleNamespace(
        bboxes=torch.tensor([[0., 0., 4., 4.]]),
        labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match='image 0 of the batch'):
        ours.get_targets([torch.zeros(1, 2)], [inst])


def test_legacy_predictor_names_load():
    mm_head, ours = build_pair('vanilla')
    state = {}
    for key, value in mm_head.state_dict().items():
        state[key.replace('conv_', 'fcos_', 1) if key.startswith(
            ('conv_cls', 'conv_reg', 'conv_centerness')) else key] = value
    assert 'fcos_cls.weight' in state
    fresh = FCOSHead(**COMMON)
    fresh.load_state_dict(state, strict=True)  # a plain dict: no metadata
    torch.testing.assert_close(fresh.conv_cls.weight, ours.conv_cls.weight)


def test_builds_our_parts_under_any_default_scope():
    from fcos_mm.models.losses import FocalLoss
    from fcos_mm.models.task_modules import FCOSPointAssigner
    for scope in ('mmdet', 'fcos_mm'):
        with DefaultScope.overwrite_default_scope(scope):
            head = FCOSHead(**COMMON)
            # the caller's scope is back afterwards
            assert DefaultScope.get_current_instance().scope_name == scope
        assert type(head.assigner) is FCOSPointAssigner
        assert type(head.loss_cls) is FocalLoss
    # an explicit scope still reaches mmdet's class
    head = FCOSHead(
        **COMMON, loss_cls=dict(type='mmdet.FocalLoss', use_sigmoid=True))
    assert type(head.loss_cls).__module__.startswith('mmdet.')


def test_point_generator_from_config():
    head = FCOSHead(
        **COMMON, prior_generator=dict(type='MlvlPointGenerator', offset=0.))
    points = head.prior_generator.grid_priors([(2, 3)] * 5, device='cpu')
    # offset 0: the grid starts at the image corner
    assert points[1][:4].tolist() == [[0, 0], [16, 0], [32, 0], [0, 16]]
    with pytest.raises(ValueError, match='differ from the head'):
        FCOSHead(
            **COMMON,
            prior_generator=dict(
                type='MlvlPointGenerator', strides=(8, 16, 32, 64)))


def test_mismatched_levels_are_refused():
    _, ours = build_pair('vanilla')
    cls_scores, bbox_preds, centernesses = ours(features())
    with pytest.raises(ValueError, match='differ in levels'):
        ours.loss_by_feat(cls_scores, bbox_preds[:4], centernesses,
                          gt_instances(), METAS)


def test_nms_pre_zero_or_negative_keeps_every_candidate():
    _, ours = build_pair('vanilla')
    outs = ours(features())
    points_per_img = sum(h * w for h, w in FEAT_SIZES)  # 129
    for nms_pre in (-1, 0):
        cfg = dict(nms_pre=nms_pre, score_thr=0.0, min_bbox_size=-1)
        results = ours.predict_by_feat(
            *outs, batch_img_metas=METAS, cfg=cfg, with_nms=False)
        # every (point, class) pair of every level, none dropped
        assert [len(r) for r in results] == [points_per_img * NUM_CLASSES] * 2
    with pytest.raises(ValueError, match='batch_img_metas'):
        ours.predict_by_feat(*outs, cfg=cfg)
    metas = [dict(m) for m in METAS]
    del metas[1]['scale_factor']
    with pytest.raises(ValueError, match="image 'data/b.jpg'.*scale_factor"):
        ours.predict_by_feat(*outs, batch_img_metas=metas, rescale=True)
    del metas[1]['img_shape']
    with pytest.raises(ValueError, match='lacks img_shape$'):
        ours.predict_by_feat(*outs, batch_img_metas=metas)


def test_box_type_ground_truth_equals_tensors():
    from mmdet.structures.bbox import HorizontalBoxes
    _, ours = build_pair('center_sampling')
    feats = features()
    samples = data_samples()
    for sample in samples:
        sample.gt_instances.bboxes = HorizontalBoxes(
            sample.gt_instances.bboxes)
    assert_losses_equal(
        ours.loss(feats, samples), ours.loss(feats, data_samples()))


def test_normalisers_are_reduced_across_ranks(monkeypatch):
    import fcos_mm.models.dense_heads.fcos_head as fcos_head_module
    _, ours = build_pair('vanilla')
    feats = features()
    plain = ours.loss(feats, data_samples())
    reduced = []

    def fake_reduce_mean(tensor):
        # as if the other rank had three times as many positives and
        # center-ness mass: the mean over 2 ranks doubles the local value
        reduced.append(tensor.item())
        return tensor * 2

    monkeypatch.setattr(fcos_head_module, 'reduce_mean', fake_reduce_mean)
    doubled = ours.loss(feats, data_samples())
    for key in plain:
        torch.testing.assert_close(doubled[key], plain[key] / 2)
    assert len(reduced) == 2  # num_pos, then the center-ness-target sum
    # a rank without positives still takes part in both reductions, or the
    # ranks that have some would wait for it forever
    reduced.clear()
    ours.loss(feats, data_samples([[], []], [[], []]))
    assert reduced == [0.0, 0.0]


# ------------------------------------- mmdet's head attributes, and inputs
def test_forward_takes_any_iterable_of_levels():
    _, ours = build_pair('vanilla')
    feats = features()
    ref = ours(feats)
    outs = ours(level for level in feats)  # a generator, as mmdet's test
    for ref_levels, levels in zip(ref, outs):
        for ref_level, level in zip(ref_levels, levels):
            assert torch.equal(level, ref_level)
    with pytest.raises(ValueError, match='got 4 feature maps for 5 strides'):
        ours(level for level in feats[:4])


def targets_and_losses(head, feats):
    points = head.prior_generator.grid_priors(FEAT_SIZES, device='cpu')
    labels, bbox_targets = head.get_targets(points, gt_instances(), METAS,
                                            FEAT_SIZES)
    return labels, bbox_targets, head.loss(feats, data_samples())


# (attribute, value set on a built head, the head's settings before)
ASSIGNER_TOGGLES = [
    ('center_sampling', True, dict(center_sample_radius=0.5)),
    ('center_sample_radius', 0.25, dict(center_sampling=True)),
    ('regress_ranges', ((-1, 20), (20, 40), (40, 80), (80, 160),
                        (160, 1e8)), {}),
]


@pytest.mark.parametrize('name, value, before', ASSIGNER_TOGGLES)
def test_assigner_option_set_on_a_built_head_equals_building_with_it(
        name, value, before):
    assigner = dict(type='FCOSPointAssigner', regress_ranges=RANGES,
                    **before)
    toggled = FCOSHead(**COMMON, train_cfg=dict(assigner=assigner))
    randomise(toggled)
    feats = features()
    old_labels, old_targets, old_losses = targets_and_losses(toggled, feats)
    setattr(toggled, name, value)
    assert getattr(toggled.assigner, name) == (
        [tuple(r) for r in value] if name == 'regress_ranges' else value)
    assert getattr(toggled, name) == getattr(toggled.assigner, name)
    built = FCOSHead(
        **COMMON,
        train_cfg=dict(assigner=dict(assigner, **{name: value})))
    built.load_state_dict(toggled.state_dict())
    labels, bbox_targets, losses = targets_and_losses(toggled, feats)
    ref_labels, ref_targets, ref_losses = targets_and_losses(built, feats)
    assert torch.equal(labels, ref_labels)
    assert torch.equal(bbox_targets, ref_targets)
    for key in ref_losses:
        assert torch.equal(losses[key], ref_losses[key]), key
    # and the setting did change what is trained
    assert not torch.equal(labels, old_labels)
    assert not torch.equal(losses['loss_bbox'], old_losses['loss_bbox'])


@pytest.mark.parametrize('name, value, before', ASSIGNER_TOGGLES)
def test_assigner_option_set_on_both_heads_equals_mmdet(name, value, before):
    mm_head, ours = build_pair('vanilla', **before)
    for head in (mm_head, ours):
        setattr(head, name, value)
    feats = features()
    assert_losses_equal(
        ours.loss(feats, data_samples()), mm_head.loss(feats, data_samples()))


@pytest.mark.parametrize('name', ['norm_on_bbox', 'centerness_on_reg'])
def test_forward_option_set_on_a_built_head_equals_building_with_it(name):
    mm_head, ours = build_pair('vanilla')
    built = FCOSHead(**COMMON, **{name: True},
                     train_cfg=dict(assigner=dict(
                         type='FCOSPointAssigner', regress_ranges=RANGES)))
    built.load_state_dict(ours.state_dict())
    feats = features()
    old_losses = ours.loss(feats, data_samples())
    for head in (mm_head, ours):
        setattr(head, name, True)
    losses = ours.loss(feats, data_samples())
    for key, value in built.loss(feats, data_samples()).items():
        assert torch.equal(losses[key], value), key
    assert_losses_equal(losses, mm_head.loss(feats, data_samples()))
    assert not all(torch.equal(losses[key], old_losses[key]) for key in losses)


def test_norm_on_bbox_change_warns_that_earlier_outputs_keep_the_old_one():
    _, ours = build_pair('vanilla')
    outs = ours(features())
    before = ours.loss_by_feat(*outs, gt_instances(), METAS)
    with pytest.warns(UserWarning, match='applies from the next forward'):
        ours.norm_on_bbox = True
    assert ours.norm_on_bbox is True
    # pixel distances either way: outputs of the earlier forward give the
    # same losses, as the warning says
    after = ours.loss_by_feat(*outs, gt_instances(), METAS)
    for key in before:
        assert torch.equal(after[key], before[key]), key
    # no change, no warning
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ours.norm_on_bbox = True


BUILT_WITH = ('in_channels', 'feat_channels', 'stacked_convs', 'strides',
              'dcn_on_last_conv', 'conv_bias', 'conv_cfg', 'norm_cfg',
              'use_sigmoid_cls')


def test_attributes_the_layers_are_built_from_read_as_mmdet_and_are_fixed():
    mm_head, ours = build_pair('improvements')
    for name in BUILT_WITH + ASSIGNER_KEYS + ('norm_on_bbox',
                                             'centerness_on_reg'):
        mm_value, value = getattr(mm_head, name), getattr(ours, name)
        if name == 'regress_ranges':
            mm_value = [tuple(r) for r in mm_value]
        assert value == mm_value, name
    for name in BUILT_WITH:
        with pytest.raises(AttributeError,
                           match=f'{name} is fixed once the head is built'):
            setattr(ours, name, getattr(ours, name))


def test_bad_assigner_option_values_are_refused():
    _, ours = build_pair('vanilla')
    with pytest.raises(ValueError, match='4 ranges for 5 strides'):
        ours.regress_ranges = RANGES[:4]
    with pytest.raises(ValueError, match=r'regress_ranges\[1\]'):
        ours.regress_ranges = ((-1, 12), (24, 12)) + RANGES[2:]
    assert ours.regress_ranges == list(RANGES)
    # an assigner without the option: say where the option lives
    ours.assigner = SimpleNamespace(assign_batch=None)
    for action in (lambda: ours.center_sampling,
                   lambda: setattr(ours, 'center_sampling', True)):
        with pytest.raises(TypeError,
                           match='option of the assigner .*has none'):
            action()
