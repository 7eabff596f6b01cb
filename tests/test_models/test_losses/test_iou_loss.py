"""IoULoss: hand-worked values and mmdet 3.3's numbers."""
import math

import pytest
import torch
from mmdet.models.losses import IoULoss as MMDetIoULoss

from fcos_mm.models.losses import IoULoss
from fcos_mm.registry import MODELS


def random_boxes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 30 + 0.5
    return torch.cat([xy, xy + wh], dim=1)


def test_hand_values():
    pred = torch.tensor([[0., 0., 2., 2.]])
    target = torch.tensor([[1., 1., 3., 3.]])
    # overlap 1, union 4 + 4 - 1 = 7
    assert IoULoss()(pred, target).item() == pytest.approx(math.log(7))
    assert IoULoss(mode='linear')(pred, target).item() == pytest.approx(6 / 7)
    assert IoULoss(mode='square')(pred,
                                  target).item() == pytest.approx(48 / 49)
    # disjoint boxes: the IoU is clamped at eps
    far = torch.tensor([[10., 10., 11., 11.]])
    assert IoULoss(eps=1e-6)(pred, far).item() == pytest.approx(
        -math.log(1e-6), rel=1e-5)


@pytest.mark.parametrize('mode', ['log', 'linear', 'square'])
@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_matches_mmdet(mode, reduction):
    pred, target = random_boxes(30, 0), random_boxes(30, 1)
    weight = torch.rand(30)
    avg_factor = 4.0 if reduction == 'mean' else None
    kwargs = dict(mode=mode, reduction=reduction, loss_weight=1.5)
    ours = IoULoss(**kwargs)(pred, target, weight, avg_factor=avg_factor)
    ref = MMDetIoULoss(**kwargs)(pred, target, weight, avg_factor=avg_factor)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)
    # (n, 4) weights are averaged per box, as mmdet does
    weight4 = torch.rand(30, 4)
    torch.testing.assert_close(
        IoULoss(**kwargs)(pred, target, weight4),
        MMDetIoULoss(**kwargs)(pred, target, weight4))


def test_all_zero_weight_keeps_graph():
    pred = random_boxes(5).requires_grad_()
    loss = IoULoss()(pred, random_boxes(5, 1), torch.zeros(5), avg_factor=0.)
    assert loss.item() == 0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))
    # with reduction 'none' the element-wise loss comes back (as mmdet)
    none = IoULoss(reduction='none')(pred, random_boxes(5, 1), torch.zeros(5))
    assert none.shape == (5, )


def test_deprecated_linear_and_bad_arguments():
    with pytest.warns(DeprecationWarning):
        loss = IoULoss(linear=True)
    assert loss.mode == 'linear'
    with pytest.raises(ValueError, match='mode'):
        IoULoss(mode='cubic')
    with pytest.raises(ValueError, match=r'\(n, 4\)'):
        IoULoss()(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='weight of shape'):
        IoULoss()(random_boxes(3), random_boxes(3), torch.ones(3, 2))
    assert isinstance(MODELS.build(dict(type='IoULoss')), IoULoss)


def test_float16_boxes():
    # small boxes: mmdet's numbers
    pred, target = random_boxes(20, 4).half(), random_boxes(20, 5).half()
    ours = IoULoss(reduction='none')(pred, target)
    assert ours.dtype == torch.float16
    torch.testing.assert_close(
        ours, MMDetIoULoss(reduction='none')(pred, target))
    # areas beyond float16's range (mmdet overflows on the target's area
    # there): computed in float32, the float32 result rounded
    pred, target = pred * 300, target * 300
    ours = IoULoss(reduction='none')(pred, target)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(
        ours, IoULoss(reduction='none')(pred.float(), target.float()).half())
