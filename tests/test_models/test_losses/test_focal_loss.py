"""FocalLoss: hand-worked values and mmdet 3.3's numbers."""
import math

import pytest
import torch
from mmdet.models.losses import FocalLoss as MMDetFocalLoss

from fcos_mm.models.losses import FocalLoss
from fcos_mm.registry import MODELS


def _inputs(n=40, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(n, c, generator=g) * 3
    labels = torch.randint(0, c + 1, (n, ), generator=g)  # c = background
    return pred, labels


def test_hand_value_single_logit():
    # p = sigmoid(0) = 0.5 on a positive: alpha * (1 - p)^2 * -log(p)
    loss = FocalLoss(reduction='sum')(torch.zeros(1, 1), torch.tensor([0]))
    assert loss.item() == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-6)
    # the same logit on background: (1 - alpha) * p^2 * -log(1 - p)
    loss = FocalLoss(reduction='sum')(torch.zeros(1, 1), torch.tensor([1]))
    assert loss.item() == pytest.approx(0.75 * 0.25 * math.log(2), rel=1e-6)


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
@pytest.mark.parametrize('weighting', ['none', 'per_sample', 'per_class'])
def test_matches_mmdet(reduction, weighting):
    pred, labels = _inputs()
    kwargs = dict(gamma=1.5, alpha=0.3, loss_weight=2.0, reduction=reduction)
    weight = None
    if weighting == 'per_sample':
        weight = torch.rand(pred.size(0))
    elif weighting == 'per_class':
        weight = torch.rand(pred.shape)
    avg_factor = 7.0 if reduction == 'mean' else None
    ours = FocalLoss(**kwargs)(
        pred, labels, weight=weight, avg_factor=avg_factor)
    ref = MMDetFocalLoss(**kwargs)(
        pred, labels, weight=weight, avg_factor=avg_factor)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)


def test_one_hot_and_activated_match_mmdet():
    pred, labels = _inputs()
    onehot = torch.nn.functional.one_hot(labels, 5)[:, :4]
    torch.testing.assert_close(FocalLoss()(pred, onehot),
                               MMDetFocalLoss()(pred, onehot))
    prob = pred.sigmoid()
    torch.testing.assert_close(
        FocalLoss(activated=True)(prob, labels, avg_factor=3.0),
        MMDetFocalLoss(activated=True)(prob, labels, avg_factor=3.0))
    # reduction_override wins over the constructor's reduction
    torch.testing.assert_close(
        FocalLoss()(pred, labels, reduction_override='sum'),
        MMDetFocalLoss()(pred, labels, reduction_override='sum'))


def test_registered_and_bad_arguments():
    assert isinstance(MODELS.build(dict(type='FocalLoss')), FocalLoss)
    with pytest.raises(ValueError, match='sigmoid'):
        FocalLoss(use_sigmoid=False)
    with pytest.raises(ValueError, match='reduction'):
        FocalLoss(reduction='avg')
    pred, labels = _inputs()
    with pytest.raises(ValueError, match='avg_factor'):
        FocalLoss()(pred, labels, avg_factor=2.0, reduction_override='sum')
    with pytest.raises(ValueError, match='weight of shape'):
        FocalLoss()(pred, labels, weight=torch.ones(3))


class _PretendCuda(torch.Tensor):
    """A CPU tensor that says it is on CUDA, to reach the fused-op path."""

    @property
    def is_cuda(self):
        return True


def test_class_indices_on_cuda_go_through_mmcv_op(monkeypatch):
    import mmcv.ops
    import torch.nn.functional as F

    from fcos_mm.models.losses import sigmoid_focal_loss
    calls = []

    def fused(pred, target, gamma, alpha, weight, reduction):
        # mmcv's op has no CPU kernel: stand in with the torch formula
        calls.append((gamma, alpha, weight, reduction))
        pred = pred.as_subclass(torch.Tensor)
        onehot = F.one_hot(target, pred.size(1) + 1)[:, :pred.size(1)]
        return sigmoid_focal_loss(pred, onehot, gamma, alpha)

    monkeypatch.setattr(mmcv.ops, 'sigmoid_focal_loss', fused)
    pred, labels = _inputs()
    loss = FocalLoss(gamma=1.5, alpha=0.3)(
        pred.as_subclass(_PretendCuda), labels, avg_factor=5.0)
    assert calls == [(1.5, 0.3, None, 'none')]
    torch.testing.assert_close(
        loss.as_subclass(torch.Tensor),
        MMDetFocalLoss(gamma=1.5, alpha=0.3)(pred, labels, avg_factor=5.0))
