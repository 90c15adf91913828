"""The sinks' writer thread: every item written once, in order, never far behind, and nothing
written after a failure on either side."""

import sys
import threading
import time

import pytest

from orchestration.resources.pipeline import pipelined
from tests.waiting import WAIT_SECONDS, wait_until


def test_the_pipeline_writes_every_item_in_order_on_one_other_thread():
    threads = set()

    def write(i):
        threads.add(threading.get_ident())
        time.sleep(0.01 * (i % 3))  # uneven writes: results still come back in order
        return i * 10

    assert list(pipelined(iter(range(20)), write, ahead=2)) == [i * 10 for i in range(20)]
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_the_pipeline_never_reads_far_ahead_of_a_slow_writer():
    produced, written, unwritten_when_read, results = [], [], [], []

    def items():
        for i in range(10):
            unwritten_when_read.append(len(produced) - len(written))
            produced.append(i)
            yield i

    def reader_waits_on_the_writer() -> bool:
        frame = sys._current_frames().get(reader.ident)
        while frame is not None:
            if frame.f_code.co_name == "result":  # Future.result: the reader can go no further
                return True
            frame = frame.f_back
        return False

    def write(i):
        if i == 0:  # the first write stalls until the reader is blocked on it (or read everything)
            wait_until("the reader blocked on the writer", lambda: len(produced) == 10 or reader_waits_on_the_writer())
        written.append(i)
        return i

    reader = threading.Thread(target=lambda: results.extend(pipelined(items(), write, ahead=2)))
    reader.start()
    reader.join(WAIT_SECONDS)
    assert results == list(range(10))
    # ahead=2: while the first write stalls, items 1 and 2 are read and wait; item 3 is not read.
    assert max(unwritten_when_read) == 2, unwritten_when_read


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
        gate.wait(WAIT_SECONDS)
        written.append(i)

    with pytest.raises(ValueError, match="bad page"):
        list(pipelined(items(), slow_write, ahead=2))
    assert written in ([0], [0, 1])  # a prefix: what was produced before the failure, at most
