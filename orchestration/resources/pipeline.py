"""A store's writes on their own thread, overlapping the parsing of what comes next.

A sink's batch is parsed and mapped in Python (holding the GIL), then written by a store call
that mostly does not hold it (SQLite's statements, a socket): on one thread the two take turns.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")


def pipelined(items: Iterable[T], write: Callable[[T], R], ahead: int = 2) -> Iterator[R]:
    """`write(item)` for each item, in order, on one writer thread, while the caller's thread
    produces the next items (at most `ahead` wait): a store call that releases the GIL (SQLite,
    a socket) overlaps with the parsing of the next batch. After a failure on either side no
    further item is written, so what is stored is always a prefix of `items`."""
    stopped = threading.Event()

    def write_unless_stopped(item: T) -> R:
        if stopped.is_set():
            raise CancelledError("an earlier write or the producer failed")
        try:
            return write(item)
        except BaseException:
            stopped.set()
            raise

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer") as writer:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(writer.submit(write_unless_stopped, item))
                while len(pending) > ahead or (pending and pending[0].done()):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BaseException:
            stopped.set()
            raise
