"""The benchmarks' harness: the timing loop on a fake clock, the table
formatter against the hand-written formats it replaced, random boxes."""
import math

import pytest
import torch

from fcos_mm.benchmarks.harness import (
    format_table,
    interleaved_rounds,
    random_boxes,
    ratio,
    timed_call,
    timed_turns,
)


def fake_clock():
    """A clock that advances 1 s per read."""
    ticks = iter(range(1000))
    return lambda: float(next(ticks))


def test_timed_turns_alternate_after_warmup():
    calls = []
    runs = dict(a=lambda: calls.append('a'), b=lambda: calls.append('b'))
    seconds = timed_turns(runs, 1, 2, fake_clock())
    assert calls == ['a', 'b'] * 3
    # each call is between two reads of the clock: 1 s
    assert seconds == dict(a=[1.0, 1.0], b=[1.0, 1.0])


def test_timed_turns_setup_is_untimed_and_budget_stops():
    clock = fake_clock()
    seen = []
    seconds = timed_turns(
        dict(a=seen.append), 0, 5, clock,
        setup=dict(a=lambda: len(seen)), budget_s=2.0)
    # two timed turns of 1 s reach the budget
    assert seen == [0, 1] and seconds == dict(a=[1.0, 1.0])
    assert timed_turns(dict(a=lambda: None), 0, 3, clock,
                       budget_s=0.0) == dict(a=[])


def test_timed_call_and_rounds():
    assert timed_call(lambda: 'x', fake_clock()) == ('x', 1.0)
    order = []
    results = interleaved_rounds(
        dict(a=lambda i: order.append(('a', i)) or i,
             b=lambda i: order.append(('b', i)) or -i), 2)
    assert order == [('a', 0), ('b', 0), ('a', 1), ('b', 1)]
    assert results == dict(a=[0, 1], b=[0, -1])


def test_format_table_as_the_hand_written_tables():
    lines = format_table(
        [('stage', '<12'), ('ms / image', '>12.2f'), ('share', '>8')],
        [('backbone', 12.345, '61.7%')])
    assert lines == [
        f'{"stage":<12}{"ms / image":>12}{"share":>8}',
        f'{"backbone":<12}{12.345:>12.2f}{61.7:>7.1f}%'
    ]
    # ints print as integers in a float column; '-' for a ratio over 0
    lines = format_table([('', '<34'), ('mmdet', '>12.1f'),
                          ('ratio', '>8')],
                         [('syncs', 12, ratio(0, 12)), ('x', 3, ratio(1, 0))])
    assert lines[1] == f'{"syncs":<34}{12:>12d}{"0.000":>8}'
    assert lines[2] == f'{"x":<34}{3:>12d}{"-":>8}'
    assert format_table([('a', '>6'), ('|', '>1'), ('b', '>7.3f')],
                        [(50, '|', 0.5)], sep=' ') == [
        '{:>6} | {:>7}'.format('a', 'b'), '{:>6} | {:>7.3f}'.format(50, 0.5)]


@pytest.mark.parametrize('spread', ['square', 'log'])
def test_random_boxes_inside_the_image(spread):
    boxes = random_boxes(200, (48, 80), torch.Generator().manual_seed(0),
                         min_side=4, spread=spread)
    assert boxes.shape == (200, 4) and boxes.dtype == torch.float32
    wh = boxes[:, 2:] - boxes[:, :2]
    assert (wh >= 4 - 1e-4).all()
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, 2] <= 80 + 1e-4).all()
    assert (boxes[:, 3] <= 48 + 1e-4).all()
    with pytest.raises(ValueError, match='spread'):
        random_boxes(1, (8, 8), torch.Generator(), spread='uniform')


def test_random_boxes_draw_as_the_generators_they_replaced():
    # random_batch's: sides 8 + u^2 (size - 8), corner u (size - wh)
    gen = torch.Generator().manual_seed(3)
    size = torch.tensor([80., 48.])
    wh = 8 + torch.rand(5, 2, generator=gen)**2 * (size - 8)
    xy = torch.rand(5, 2, generator=gen) * (size - wh)
    assert torch.equal(
        random_boxes(5, (48, 80), torch.Generator().manual_seed(3)),
        torch.cat([xy, xy + wh], 1))
    # benchmark_assigner's: log-uniform from 4 px to the longer side
    gen = torch.Generator().manual_seed(3)
    wh = torch.minimum(
        4 * (torch.rand(5, 2, generator=gen) * math.log(80 / 4)).exp(), size)
    xy = torch.rand(5, 2, generator=gen) * (size - wh)
    assert torch.equal(
        random_boxes(5, (48, 80), torch.Generator().manual_seed(3), 4,
                     spread='log'), torch.cat([xy, xy + wh], 1))
