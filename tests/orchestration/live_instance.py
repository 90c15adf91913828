"""A real local instance's processes for tests: the webserver, the daemon, `dagster dev`."""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

from tests.waiting import log_tails, wait_until

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(argv: list[str], env: dict, log: Path, stop_signal: int = signal.SIGINT):
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop_signal)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the process and the run workers it started
        except ProcessLookupError:
            pass
        proc.wait()


def stop_together(stops: list[tuple[subprocess.Popen, int]], grace: float = 20, *, groups: bool = False) -> None:
    """Each process its stop signal at once (to its whole process group with `groups`), one
    grace for all of them, then SIGKILL to the group of any still running: one after the other,
    a busy machine paid each one's shutdown in turn."""
    for proc, stop_signal in stops:
        with suppress(ProcessLookupError):
            if groups:
                os.killpg(proc.pid, stop_signal)
            else:
                proc.send_signal(stop_signal)
    deadline = time.monotonic() + grace
    for proc, _ in stops:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(what: str, probe, logs: list[Path]):
    """Until `probe` holds, within the suite's one ceiling (tests/waiting.py); fails with the logs."""
    return wait_until(what, probe, log_tails(*logs), interval=0.3)


def graphql_ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
    except requests.ConnectionError:
        return False
