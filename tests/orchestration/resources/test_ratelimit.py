"""The shared rate limiter: every window holds, across processes, and a cost counts as units."""

import multiprocessing
import sqlite3

import pytest

from orchestration.resources.ratelimit import SharedRateLimiter, Window, minimum_seconds, parse_windows
from tests.waiting import WAIT_SECONDS


class FakeClock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def limiter(tmp_path, windows, clock, name="openaq"):
    return SharedRateLimiter(tmp_path / "limits.sqlite", name, windows, clock=clock, sleep=clock.sleep)


def test_requests_wait_for_the_tightest_window(tmp_path):
    clock = FakeClock()
    limits = limiter(tmp_path, [Window(3, 60), Window(5, 3600)], clock)
    start = clock.now
    times = []
    for _ in range(7):
        limits.acquire()
        times.append(clock.now - start)
    # 3 at once, the minute window admits 2 more a minute later, then the hour window is full.
    assert times == [0, 0, 0, 60, 60, 3600, 3600]


def test_a_cost_is_counted_in_units(tmp_path):
    clock = FakeClock()
    users = limiter(tmp_path, [Window(20_000, 300)], clock, name="randomuser")
    assert users.acquire(5000) == 0 and users.acquire(15_000) == 0
    assert users.acquire(1) == 300  # the window is full until the first call ages out
    with pytest.raises(ValueError, match="can never fit"):
        users.acquire(20_001)


def test_names_have_separate_budgets(tmp_path):
    clock = FakeClock()
    a, b = limiter(tmp_path, [Window(1, 60)], clock, "a"), limiter(tmp_path, [Window(1, 60)], clock, "b")
    assert a.acquire() == 0 and b.acquire() == 0
    assert a.acquire() == 60


def test_windows_parse_and_the_minimum_time_of_a_day(tmp_path):
    windows = parse_windows("60/60, 2000/3600")
    assert windows == [Window(60, 60), Window(2000, 3600)]
    assert minimum_seconds(60, windows) == 0
    assert minimum_seconds(61, windows) == 60
    assert minimum_seconds(5000, windows) == 2 * 3600  # the hourly quota dominates
    for bad in ("", "60", "0/60", "60/0"):
        with pytest.raises(ValueError):
            parse_windows(bad)


# The long third window keeps every grant in the file until the test reads them back.
SHARED = [Window(4, 0.5), Window(10, 2.0), Window(1000, 3600)]


def _hammer(path, count):
    limits = SharedRateLimiter(path, "shared", SHARED)
    for _ in range(count):
        limits.acquire()


def test_processes_share_one_budget(tmp_path):
    """Three processes on one fresh file: no window ever holds more than its limit."""
    path = tmp_path / "limits.sqlite"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_hammer, args=(path, 6)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=WAIT_SECONDS)
        assert w.exitcode == 0
    with sqlite3.connect(path) as db:
        stamps = sorted(at for (at,) in db.execute("select at from requests where name = 'shared'"))
    assert len(stamps) == 18
    for limit, seconds in ((4, 0.5), (10, 2.0)):
        for i, first in enumerate(stamps):
            in_window = [s for s in stamps[i:] if s < first + seconds]
            assert len(in_window) <= limit, (limit, seconds, in_window)
