"""GIoULoss: hand-worked values and mmdet 3.3's numbers."""
import pytest
import torch
from mmdet.models.losses import GIoULoss as MMDetGIoULoss

from fcos_mm.models.losses import GIoULoss
from fcos_mm.registry import MODELS


def random_boxes(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 30 + 0.5
    return torch.cat([xy, xy + wh], dim=1)


def test_hand_values():
    # disjoint unit squares 1 apart: IoU 0, enclosing 3, union 2
    pred = torch.tensor([[0., 0., 1., 1.]])
    target = torch.tensor([[2., 0., 3., 1.]])
    assert GIoULoss()(pred, target).item() == pytest.approx(1 + 1 / 3)
    # identical boxes: GIoU 1, loss 0
    assert GIoULoss()(pred, pred).item() == pytest.approx(0, abs=1e-7)


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_matches_mmdet(reduction):
    pred, target = random_boxes(30, 2), random_boxes(30, 3)
    weight = torch.rand(30)
    avg_factor = 4.0 if reduction == 'mean' else None
    kwargs = dict(reduction=reduction, loss_weight=0.5, eps=1e-6)
    torch.testing.assert_close(
        GIoULoss(**kwargs)(pred, target, weight, avg_factor=avg_factor),
        MMDetGIoULoss(**kwargs)(pred, target, weight, avg_factor=avg_factor),
        rtol=1e-6,
        atol=0)
    weight4 = torch.rand(30, 4)
    torch.testing.assert_close(
        GIoULoss(**kwargs)(pred, target, weight4),
        MMDetGIoULoss(**kwargs)(pred, target, weight4))


def test_all_zero_weight_and_registry():
    pred = random_boxes(4).requires_grad_()
    loss = GIoULoss()(pred, random_boxes(4, 1), torch.zeros(4))
    ref = MMDetGIoULoss()(pred, random_boxes(4, 1), torch.zeros(4))
    assert loss.item() == ref.item() == 0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))
    assert isinstance(MODELS.build(dict(type='GIoULoss')), GIoULoss)


def test_float16_boxes():
    # small boxes: mmdet's numbers
    pred, target = random_boxes(20, 4).half(), random_boxes(20, 5).half()
    ours = GIoULoss(reduction='none')(pred, target)
    assert ours.dtype == torch.float16
    torch.testing.assert_close(
        ours, MMDetGIoULoss(reduction='none')(pred, target))
    # areas beyond float16's range (mmdet overflows on the target's area
    # there): computed in float32, the float32 result rounded
    pred, target = pred * 300, target * 300
    ours = GIoULoss(reduction='none')(pred, target)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(
        ours, GIoULoss(reduction='none')(pred.float(), target.float()).half())


def test_sync_free_loss_equals_the_guarded_loss_without_a_read_back():
    from fcos_mm.benchmarks import count_ops
    from fcos_mm.models.losses import CrossEntropyLoss, GIoULoss, IoULoss
    from fcos_mm.models.losses.utils import sync_free_loss
    pred = torch.tensor([[0., 0., 4., 4.], [1., 1., 3., 5.],
                         [2., 2., 2., 2.]], requires_grad=True)
    target = torch.tensor([[0., 0., 4., 5.], [0., 0., 3., 5.],
                           [2., 2., 3., 3.]])
    for loss in (GIoULoss(loss_weight=2.), IoULoss(mode='linear')):
        for weight in (torch.tensor([0.5, 1., 0.]), torch.zeros(3)):
            want = loss(pred, target, weight=weight, avg_factor=1.5)
            got = {}
            counts = count_ops(lambda: got.update(out=sync_free_loss(
                loss, pred, target, weight, avg_factor=1.5)))
            assert counts['syncs'] == 0
            torch.testing.assert_close(got['out'], want)
    # a loss without the guard is called as it is
    bce = CrossEntropyLoss(use_sigmoid=True)
    logits, soft = torch.tensor([0.3, -1.]), torch.tensor([0.2, 0.9])
    weight = torch.tensor([1., 0.])
    torch.testing.assert_close(
        sync_free_loss(bce, logits, soft, weight, avg_factor=2.),
        bce(logits, soft, weight=weight, avg_factor=2.))
