"""Load on the marts API over loopback, per endpoint: requests/s, p50 and p99, cached and uncached.

Starts the API as `make serve` does (uvicorn, one process) twice over the same warehouse: once
with a Redis cache (a private redis-server) and once without. The endpoints are the API's own:
every route of its OpenAPI document that needs an API key (each dataset route of `api.ROUTES`),
so a new endpoint is benchmarked without touching this file. Each is read as `?limit=100` for
BENCH_SECONDS over BENCH_CONNECTIONS keep-alive connections by `wrk --latency` (Debian's `wrk`:
a C load generator on one thread, far cheaper per request than the server, so it is not the
bottleneck). Without `wrk` a minimal asyncio client drives the load instead, and the JSON says
so: it costs CPU the server then lacks on two cores, so its figures are a lower bound.

Prints one JSON object: per endpoint, the cached and uncached figures and, for cached reads,
`target_met` (>= 1,000 requests/s with p99 <= 50 ms and no failed request).

BENCH_SECONDS (10), BENCH_CONNECTIONS (16); the warehouse is DATA_DIR's (run `make run` first).
Requests carry an API key of a key store made for the run, so the key check is measured too.
"""

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

from orchestration.serving.api_keys import SCOPES, KeyStore

SECONDS = float(os.getenv("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.getenv("BENCH_CONNECTIONS", "16"))
QUERY = "?limit=100"
TARGET = {"requests_per_s": 1000, "p99_ms": 50.0}  # cached reads, the goal
WRK_MISSING = (
    "wrk is not installed (apt-get install -y wrk): the load came from the asyncio fallback client,"
    " which competes with the server for CPU; its figures are a lower bound"
)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{url} did not come up")
        time.sleep(0.2)


def dataset_paths(openapi: dict) -> list[str]:
    """The GET routes of an OpenAPI document that need an API key: the dataset routes."""
    return sorted(path for path, operations in openapi["paths"].items() if operations.get("get", {}).get("security"))


# wrk --latency's figures, e.g. "     99%   35.27ms", "Requests/sec:    346.58",
# "  360 requests in 1.04s, 2.85MB read", "Non-2xx or 3xx responses: 12",
# "  Socket errors: connect 0, read 3, write 0, timeout 1".
_DURATION = r"([\d.]+)(us|ms|s|m|h)"
_PERCENTILE = re.compile(rf"^\s*(50|75|90|99)(?:\.0+)?%\s+{_DURATION}\s*$", re.M)
_TOTAL = re.compile(rf"^\s*(\d+) requests in {_DURATION},", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.M)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$", re.M)
_SOCKET = re.compile(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.M)


def parse_wrk(output: str) -> dict:
    """requests, requests/s, p50/p75/p90/p99 in ms and failures from `wrk --latency`'s output."""
    percentiles = {int(p): float(v) * UNIT_MS[u] for p, v, u in _PERCENTILE.findall(output)}
    total, rate = _TOTAL.search(output), _RATE.search(output)
    if total is None or rate is None or set(percentiles) != {50, 75, 90, 99}:
        raise ValueError(f"not the output of `wrk --latency`:\n{output}")
    non_2xx, sockets = _NON_2XX.search(output), _SOCKET.search(output)
    return {
        "requests": int(total.group(1)),
        "seconds": round(float(total.group(2)) * UNIT_MS[total.group(3)] / 1000, 2),
        "requests_per_s": round(float(rate.group(1))),
        "p50_ms": round(percentiles[50], 2),
        "p75_ms": round(percentiles[75], 2),
        "p90_ms": round(percentiles[90], 2),
        "p99_ms": round(percentiles[99], 2),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, sockets.groups())) if sockets else 0,
    }


def wrk_load(url: str, headers: dict) -> dict:
    argv = ["wrk", "--latency", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS:g}s", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=SECONDS + 60)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


async def connection(port: int, path: str, headers: dict, until: float, latencies: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": "127.0.0.1", **headers}.items())
    request = f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()
    while time.perf_counter() < until:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(head.split(b"\r\n")[0])
    writer.close()


async def asyncio_load(port: int, path: str, headers: dict) -> dict:
    """The fallback load generator when wrk is missing: the same figures, fewer of them."""
    latencies, errors = [], []
    until = time.perf_counter() + SECONDS
    started = time.perf_counter()
    await asyncio.gather(*(connection(port, path, headers, until, latencies, errors) for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "non_2xx": len(errors),
        "socket_errors": 0,
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm(base: str, path: str, headers: dict) -> None:
    """A few reads first (the cached run's first one fills the cache); any non-200 stops the bench."""
    for _ in range(20):
        with urlopen(Request(base + path, headers=headers), timeout=30) as response:
            response.read()


def run(env: dict, headers: dict, use_wrk: bool) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "orchestration.serving.api"], env={**env, "API_PORT": str(port)})
    try:
        wait_http(f"{base}/ready", server)
        with urlopen(f"{base}/openapi.json", timeout=10) as response:
            paths = dataset_paths(json.load(response))
        figures = {}
        for path in paths:
            path += QUERY
            warm(base, path, headers)
            cpu_before, load_before = cpu_seconds(server.pid), os.getloadavg()[0]
            if use_wrk:
                result = wrk_load(base + path, headers)
            else:
                result = asyncio.run(asyncio_load(port, path, headers))
            result["server_cpu_percent"] = round(100 * (cpu_seconds(server.pid) - cpu_before) / result["seconds"])
            result["loadavg_1m"] = round(max(load_before, os.getloadavg()[0]), 2)
            figures[path] = result
        return figures
    finally:
        server.terminate()
        server.wait(20)


def target_met(figures: dict) -> bool:
    return (
        figures["requests_per_s"] >= TARGET["requests_per_s"]
        and figures["p99_ms"] <= TARGET["p99_ms"]
        and figures["non_2xx"] == figures["socket_errors"] == 0
    )


def main() -> None:
    data_dir = Path(os.getenv("DATA_DIR", "data")).resolve()
    if not (data_dir / "warehouse.duckdb").exists():
        raise SystemExit(f"no warehouse at {data_dir}/warehouse.duckdb: run `make run` first")
    use_wrk = shutil.which("wrk") is not None
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATA_DIR=str(data_dir), DAGSTER_DEPLOYMENT="local", API_SNAPSHOT_DIR=str(data_dir / ".bench-snapshots"))
    keys = tempfile.TemporaryDirectory(prefix="bench-api-keys-")
    store = KeyStore(Path(keys.name) / "api_keys.sqlite")
    headers = {"Authorization": f"Bearer {store.create('bench', SCOPES)}"}
    env["API_KEYS_PATH"] = str(store.path)
    redis_port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        cached = run({**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}, headers, use_wrk)
    finally:
        redis.terminate()
        redis.wait(10)
    uncached = run(env, headers, use_wrk)
    report = {
        "load_generator": f"wrk --latency -t1 -c{CONNECTIONS}" if use_wrk else "asyncio",
        "seconds": SECONDS,
        "connections": CONNECTIONS,
        "cpus": os.cpu_count(),
        "target_cached": {"min_requests_per_s": TARGET["requests_per_s"], "max_p99_ms": TARGET["p99_ms"]},
        "endpoints": {
            path: {"cached": {**cached[path], "target_met": target_met(cached[path])}, "uncached": uncached[path]}
            for path in cached
        },
    }
    report["all_cached_targets_met"] = all(e["cached"]["target_met"] for e in report["endpoints"].values())
    if not use_wrk:
        report["note"] = WRK_MISSING
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
