"""ProgressBarHook: one bar step per batch, on the loops asked for."""
import io
from types import SimpleNamespace

from fcos_mm.engine import ProgressBarHook
from fcos_mm.registry import HOOKS


def _run_loop(hook, loop, num_batches):
    runner = SimpleNamespace(**{f'{loop}_dataloader': range(num_batches)})
    getattr(hook, f'before_{loop}_epoch')(runner)
    for i in range(num_batches):
        getattr(hook, f'after_{loop}_iter')(runner, i)
    getattr(hook, f'after_{loop}_epoch')(runner)


class Terminal(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self):
        return True


def test_bar_counts_every_test_batch_and_ends_the_line():
    out = Terminal()
    hook = HOOKS.build(dict(type='ProgressBarHook', file=out))
    assert isinstance(hook, ProgressBarHook)
    _run_loop(hook, 'test', 3)
    text = out.getvalue()
    # the bar starts at 0/3 and is redrawn (\r) after each of the 3 batches
    assert '0/3' in text
    assert [part.split(',')[0].split('] ')[-1]
            for part in text.split('\r')[1:]] == ['1/3', '2/3', '3/3']
    assert 'ETA' in text and text.endswith('\n')


def test_val_is_off_by_default_and_can_be_switched_on():
    out = Terminal()
    _run_loop(ProgressBarHook(file=out), 'val', 2)
    assert out.getvalue() == ''
    _run_loop(ProgressBarHook(val=True, test=False, file=out), 'val', 2)
    assert '2/2' in out.getvalue()
    before = out.getvalue()
    _run_loop(ProgressBarHook(val=True, test=False, file=out), 'test', 2)
    assert out.getvalue() == before


def test_off_a_terminal_one_line_every_few_percent():
    out = io.StringIO()  # a log: not a terminal
    _run_loop(ProgressBarHook(file=out, every=25), 'test', 164)
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    # 25, 50, 75, 100 percent: 41, 82, 123, 164 of 164
    assert [line.split(' (')[0] for line in lines] == [
        'test batches: 41/164', 'test batches: 82/164',
        'test batches: 123/164', 'test batches: 164/164']
    assert lines[-1].endswith('ETA 0 s')
