from fcos_mm.utils.stopwatch import Stopwatch, now


def test_times_the_block_by_its_clock():
    ticks = iter([1.0, 2.0, 3.5])
    with Stopwatch(clock=lambda: next(ticks)) as watch:
        assert watch.elapsed() == 1.0  # 2.0 - 1.0, while it runs
    assert watch.seconds == 2.5


def test_start_restarts_and_now_is_monotonic():
    ticks = iter([0.0, 10.0, 12.0])
    watch = Stopwatch(clock=lambda: next(ticks)).start()
    assert watch.start() is watch
    assert watch.elapsed() == 2.0
    assert now() <= now()
