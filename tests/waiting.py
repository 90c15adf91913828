"""How a test waits for something that is going to happen: until it happens, with one ceiling.

A test never sizes a wait by how fast it expects this machine to be. It polls for the event and
stops the moment it is seen, so the ceiling costs nothing when all is well: it is only how long a
stuck test takes to fail, and then it fails with the logs that say where it stuck.

One setting bounds every wait of the suite: `TEST_WAIT_SECONDS`, 600 s by default and 1,200 s when
`CI` is set, because CI runs on the submitting developer's machine, busy or not.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

WAIT_SECONDS = float(os.environ.get("TEST_WAIT_SECONDS") or (1200 if os.environ.get("CI") else 600))

T = TypeVar("T")


def wait_until(what: str, probe: Callable[[], T], explain: Callable[[], str] = str, interval: float = 0.2) -> T:
    """Polls `probe` until it returns something truthy and returns that value.

    `probe` may itself fail the test (a process that exited, say). Past `WAIT_SECONDS` the test
    fails, naming `what` it waited for, with `explain()` (the processes' logs) appended.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT_SECONDS:.0f} s (TEST_WAIT_SECONDS)\n{explain()}")
        time.sleep(interval)


def log_tails(*paths: Path, chars: int = 3000) -> Callable[[], str]:
    """An `explain` for `wait_until`: the end of each log that exists."""

    def tails() -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in paths if p.exists())

    return tails
