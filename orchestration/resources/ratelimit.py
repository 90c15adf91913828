"""A client-side rate limiter over several sliding windows, shared by every process that opens
the same SQLite file (the sensor daemon, the code server and every run of a deployment).

The providers count requests per key or per IP, not per process: two runs pulling at once must
share one budget, so the budget lives in a file beside the lake, not in memory.
"""

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float

    def __str__(self) -> str:
        unit = {60: "min", 3600: "h", 86400: "day"}.get(int(self.seconds), f"{self.seconds:g}s")
        return f"{self.limit}/{unit}"


def parse_windows(text: str) -> list[Window]:
    """`"60/60,2000/3600"`: requests per seconds, comma-separated."""
    windows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        limit, _, seconds = part.partition("/")
        windows.append(Window(int(limit), float(seconds)))
    if not windows or any(w.limit < 1 or w.seconds <= 0 for w in windows):
        raise ValueError(f"rate limits must look like '60/60,2000/3600' (requests/seconds), got {text!r}")
    return windows


def minimum_seconds(requests: int, windows: Sequence[Window]) -> float:
    """The least time `requests` requests can take from an unused budget: each window admits
    `limit` at once, then `limit` more every `seconds`."""
    if requests <= 0:
        return 0.0
    return max(((requests - 1) // w.limit) * w.seconds for w in windows)


class SharedRateLimiter:
    def __init__(
        self,
        path: str | Path,
        name: str,
        windows: Sequence[Window],
        *,
        margin_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        # The budget is stamped before a request leaves and the server stamps it on arrival, up
        # to a network latency later: a margin widens every window by that much, so two grants
        # a window apart here can never arrive inside one window there.
        self._path, self._name, self._stated = str(path), name, list(windows)
        self._windows = [Window(w.limit, w.seconds + margin_seconds) for w in windows]
        self._clock, self._sleep = clock, sleep
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)

    def acquire(self, cost: int = 1) -> float:
        """Wait until `cost` more units (requests, or users for a per-user quota) fit every
        window, record them; returns the seconds waited."""
        if any(cost > w.limit for w in self._windows):
            raise ValueError(f"a cost of {cost} can never fit the limits {self.describe()}")
        waited = 0.0
        while True:
            wait = self._try_record(cost)
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def describe(self) -> str:
        return ", ".join(str(w) for w in self._stated)

    def _try_record(self, cost: int) -> float:
        # BEGIN IMMEDIATE takes the write lock before reading, so two processes can never both
        # see room for the last request of a window. Rollback journal (not WAL): nothing to
        # switch on first open, so concurrent first opens cannot race on a journal-mode change.
        db = sqlite3.connect(self._path, timeout=60, isolation_level=None)
        try:
            db.execute("begin immediate")
            db.execute(
                "create table if not exists requests (name text not null, at real not null, cost integer not null)"
            )
            db.execute("create index if not exists requests_by_name on requests (name, at)")
            now = self._clock()
            oldest_kept = now - max(w.seconds for w in self._windows)
            db.execute("delete from requests where name = ? and at <= ?", (self._name, oldest_kept))
            wait = max(self._wait_for(db, w, now, cost) for w in self._windows)
            if wait <= 0:
                db.execute("insert into requests values (?, ?, ?)", (self._name, now, cost))
            db.execute("commit")
        finally:
            db.close()  # an open transaction is rolled back
        return wait

    def _wait_for(self, db: sqlite3.Connection, window: Window, now: float, cost: int) -> float:
        """Seconds until the window has room for `cost`: its oldest entries must age out first."""
        rows = db.execute(
            "select at, cost from requests where name = ? and at > ? order by at",
            (self._name, now - window.seconds),
        ).fetchall()
        used, wait = sum(spent for _, spent in rows), 0.0
        for at, spent in rows:
            if used + cost <= window.limit:
                break
            used -= spent
            wait = at + window.seconds - now
        return wait
