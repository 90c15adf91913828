"""Starting the real servers the serving tests talk to: the exporter, the API, Redis and
Prometheus, each a subprocess on a free loopback port; one that does not come up fails."""

import json
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.waiting import log_tails, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


@contextmanager
def process(
    argv: list[str],
    log: Path,
    ready_url: str | None = None,
    ready_port: int | None = None,
    env: dict | None = None,
):
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"{argv[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if ready_url:
                    get(ready_url, timeout=2)
                else:
                    socket.create_connection(("127.0.0.1", ready_port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(f"{argv[0]} ready", ready, log_tails(log))
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def promql(base: str, query: str) -> list:
    """The result vector of an instant query; a query Prometheus refuses fails the test."""
    body = json.loads(get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
    assert body["status"] == "success", (query, body)
    return body["data"]["result"]
