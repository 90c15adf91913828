"""The sinks' writer thread: every item written once, in order, never far behind, and nothing
written after a failure on either side."""

import threading
import time

import pytest

from orchestration.resources.pipeline import pipelined


def test_the_pipeline_writes_every_item_in_order_on_one_other_thread():
    threads = set()

    def write(i):
        threads.add(threading.get_ident())
        time.sleep(0.01 * (i % 3))  # uneven writes: results still come back in order
        return i * 10

    assert list(pipelined(iter(range(20)), write, ahead=2)) == [i * 10 for i in range(20)]
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_the_pipeline_never_reads_far_ahead_of_a_slow_writer():
    produced, release = [], threading.Event()

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    def write(i):
        release.wait(5)
        return i

    results = pipelined(items(), write, ahead=2)
    reader = threading.Thread(target=lambda: list(results))
    reader.start()
    time.sleep(0.3)
    held = len(produced)  # the writer is stuck on the first item: 1 writing + 2 waiting + 1 in hand
    release.set()
    reader.join(5)
    assert held <= 4, produced
    assert len(produced) == 10


def test_a_failure_on_either_side_stops_the_pipeline():
    written = []

    def write(i):
        if i == 2:
            raise OSError("disk full")
        written.append(i)
        return i

    with pytest.raises(OSError, match="disk full"):
        list(pipelined(iter(range(100)), write, ahead=2))
    assert written == [0, 1]  # nothing after the failed item, though two more were queued

    written.clear()
    gate = threading.Event()

    def items():
        yield 0
        yield 1
        gate.set()
        raise ValueError("bad page")

    def slow_write(i):
        gate.wait(5)
        written.append(i)

    with pytest.raises(ValueError, match="bad page"):
        list(pipelined(items(), slow_write, ahead=2))
    assert written in ([0], [0, 1])  # a prefix: what was produced before the failure, at most
