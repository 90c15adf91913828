"""`make bench-api`'s pieces: the endpoints it drives are the API's own dataset routes, and its
reader of wrk's output reads what a real `wrk --latency` prints. CI installs wrk (.ci/run): a
machine without it fails here rather than skipping."""

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestration.serving.api import ROUTES, create_app
from orchestration.serving.settings import ServingSettings
from tests.benchmarks.bench_api import dataset_paths, parse_wrk


def test_the_bench_drives_every_dataset_route_and_nothing_else(tmp_path):
    app = create_app(ServingSettings(duckdb_path=tmp_path / "warehouse.duckdb", snapshot_dir=tmp_path / "snapshots"))
    assert dataset_paths(app.openapi()) == sorted(ROUTES)


class Tiny(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    seen_authorization: set = set()

    def do_GET(self):
        Tiny.seen_authorization.add(self.headers.get("Authorization"))
        status = 200 if self.path == "/ok" else 404
        body = b'{"items":[]}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tiny_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiny)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def wrk(url: str) -> str:
    assert shutil.which("wrk"), "wrk is not installed: apt-get install -y wrk (.ci/run installs it)"
    argv = ["wrk", "--latency", "-t1", "-c2", "-d1s", "-H", "Authorization: Bearer as_test", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("path, failing", [("/ok", False), ("/missing", True)])
def test_the_parser_reads_a_real_wrk_run(tiny_server, path, failing):
    output = wrk(tiny_server + path)
    figures = parse_wrk(output)
    assert figures["requests"] > 0 and 0.9 <= figures["seconds"] <= 3
    assert abs(figures["requests_per_s"] - figures["requests"] / figures["seconds"]) <= 0.05 * figures["requests_per_s"]
    assert 0 < figures["p50_ms"] <= figures["p75_ms"] <= figures["p90_ms"] <= figures["p99_ms"]
    assert figures["non_2xx"] == (figures["requests"] if failing else 0)
    assert figures["socket_errors"] == 0
    assert Tiny.seen_authorization == {"Bearer as_test"}  # the header the bench sends arrives


def test_the_parser_converts_every_unit_and_counts_failures():
    output = """Running 10s test @ http://127.0.0.1:8000/v1/locations?limit=100
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us    1.20ms   1.02s    97.00%
    Req/Sec     1.41k   120.00     1.60k    70.00%
  Latency Distribution
     50%  640.00us
     75%    1.10ms
     90%    2.50ms
     99%    1.20s
  14110 requests in 10.01s, 20.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1409.59
Transfer/sec:      2.03MB
"""
    assert parse_wrk(output) == {
        "requests": 14110,
        "seconds": 10.01,
        "requests_per_s": 1410,
        "p50_ms": 0.64,
        "p75_ms": 1.1,
        "p90_ms": 2.5,
        "p99_ms": 1200.0,
        "non_2xx": 7,
        "socket_errors": 5,
    }
    with pytest.raises(ValueError, match="not the output of `wrk --latency`"):
        parse_wrk("Running 1s test @ http://127.0.0.1:1/\nunable to connect to 127.0.0.1:1 Connection refused\n")
