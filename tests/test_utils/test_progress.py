"""progress_bar: a redrawn bar on a terminal, a line every few percent
elsewhere."""
import io

from fcos_mm.utils.progress import LineProgress, TerminalProgress, progress_bar


class Terminal(io.StringIO):

    def isatty(self):
        return True


def test_lines_every_five_percent_in_a_log():
    out = io.StringIO()
    bar = progress_bar(164, out, prefix='images read')
    assert isinstance(bar, LineProgress)
    for _ in range(164):
        bar.update()
    bar.finish()
    lines = out.getvalue().splitlines()
    # 20 steps of 5%, one line each (not 164 updates)
    assert len(lines) == 20
    assert lines[0].startswith('images read: 9/164 (5%)')
    assert lines[-1].startswith('images read: 164/164 (100%)')


def test_big_steps_print_once_and_empty_totals_are_quiet():
    out = io.StringIO()
    bar = LineProgress(10, out, every=10)
    bar.update(7)  # crosses 10 .. 70 at once: one line
    bar.update(3)
    assert [line.split(',')[0] for line in out.getvalue().splitlines()] == [
        'progress: 7/10 (70%)', 'progress: 10/10 (100%)']
    quiet = io.StringIO()
    LineProgress(0, quiet).update()
    assert quiet.getvalue() == ''


def test_terminal_gets_the_redrawn_bar():
    out = Terminal()
    bar = progress_bar(3, out)
    assert isinstance(bar, TerminalProgress)
    bar.update()
    bar.finish()
    assert '\r' in out.getvalue() and out.getvalue().endswith('\n')
