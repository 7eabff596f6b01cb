"""CrossEntropyLoss: hand-worked values and mmdet 3.3's numbers."""
import math

import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss as MMDetCrossEntropyLoss

from fcos_mm.models.losses import CrossEntropyLoss
from fcos_mm.registry import MODELS


def test_hand_value_soft_target():
    # logit 0 against a 0.5 target: -0.5 log 0.5 - 0.5 log 0.5 = log 2
    loss = CrossEntropyLoss(use_sigmoid=True)(torch.zeros(3),
                                              torch.full((3, ), 0.5))
    assert loss.item() == pytest.approx(math.log(2))


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_sigmoid_soft_targets_match_mmdet(reduction):
    # FCOS's center-ness: (n,) logits against (n,) targets in [0, 1]
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(50, generator=g) * 2
    target = torch.rand(50, generator=g)
    weight = torch.rand(50, generator=g)
    avg_factor = 9.0 if reduction == 'mean' else None
    kwargs = dict(use_sigmoid=True, loss_weight=2.0, reduction=reduction)
    torch.testing.assert_close(
        CrossEntropyLoss(**kwargs)(pred, target, avg_factor=avg_factor),
        MMDetCrossEntropyLoss(**kwargs)(pred, target, avg_factor=avg_factor),
        rtol=1e-6,
        atol=0)
    torch.testing.assert_close(
        CrossEntropyLoss(**kwargs)(pred, target, weight),
        MMDetCrossEntropyLoss(**kwargs)(pred, target, weight))


def test_sigmoid_class_indices_match_mmdet():
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(20, 3, generator=g)
    labels = torch.randint(0, 4, (20, ), generator=g)
    labels[:3] = 255
    weight = torch.rand(20, generator=g)
    for kwargs in (dict(), dict(ignore_index=255, avg_non_ignore=True),
                   dict(class_weight=[1.0, 2.0, 0.5])):
        torch.testing.assert_close(
            CrossEntropyLoss(use_sigmoid=True, **kwargs)(pred, labels,
                                                         weight),
            MMDetCrossEntropyLoss(use_sigmoid=True, **kwargs)(pred, labels,
                                                              weight))


def test_softmax_matches_mmdet():
    g = torch.Generator().manual_seed(2)
    pred = torch.randn(20, 5, generator=g)
    labels = torch.randint(0, 5, (20, ), generator=g)
    labels[:4] = -100
    weight = torch.rand(20, generator=g)
    for kwargs in (dict(), dict(avg_non_ignore=True),
                   dict(class_weight=[1.0, 2.0, 0.5, 1.0, 3.0])):
        torch.testing.assert_close(
            CrossEntropyLoss(**kwargs)(pred, labels, weight),
            MMDetCrossEntropyLoss(**kwargs)(pred, labels, weight))


def test_bad_arguments_and_registry():
    with pytest.raises(ValueError, match='mmdet.CrossEntropyLoss'):
        CrossEntropyLoss(use_mask=True)
    with pytest.warns(UserWarning, match='avg_non_ignore'):
        CrossEntropyLoss(ignore_index=255)
    loss = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=True))
    assert isinstance(loss, CrossEntropyLoss) and loss.use_sigmoid
    assert 'use_sigmoid=True' in repr(loss)
