"""Load on the marts API over loopback: requests/s, p50 and p99 for cached and uncached reads.

Starts the API as `make serve` does (uvicorn, one process) twice over the same warehouse: once
with a Redis cache (a private redis-server) and once without, and drives each with keep-alive
HTTP/1.1 connections from a minimal asyncio client (a full HTTP client library costs more CPU
than the server on two cores, and would measure itself). Prints one JSON object.

BENCH_SECONDS (10), BENCH_CONNECTIONS (16); the warehouse is DATA_DIR's (run `make run` first).
Requests carry an API key of a key store made for the run, so the key check is measured too.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

from orchestration.serving.api_keys import KeyStore

SECONDS = float(os.getenv("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.getenv("BENCH_CONNECTIONS", "16"))
PATH = "/v1/air-quality/daily?limit=100"
HEADERS = {"Host": "127.0.0.1"}  # main() adds the run's API key


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


async def connection(port: int, until: float, latencies: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
    request = f"GET {PATH} HTTP/1.1\r\n{head}\r\n".encode()
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


async def load(port: int) -> dict:
    latencies, errors = [], []
    until = time.perf_counter() + SECONDS
    started = time.perf_counter()
    await asyncio.gather(*(connection(port, until, latencies, errors) for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "requests_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(env: dict) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "orchestration.serving.api"], env={**env, "API_PORT": str(port)})
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", server)
        asyncio.run(warm(port))
        cpu_before, load_before = cpu_seconds(server.pid), os.getloadavg()[0]
        figures = asyncio.run(load(port))
        figures["server_cpu_percent"] = round(100 * (cpu_seconds(server.pid) - cpu_before) / SECONDS)
        figures["loadavg_1m"] = round(max(load_before, os.getloadavg()[0]), 2)
        return figures
    finally:
        server.terminate()
        server.wait(20)


async def warm(port: int) -> None:
    latencies, errors = [], []
    await connection(port, time.perf_counter() + 1, latencies, errors)
    if errors:
        raise SystemExit(f"warm-up failed: {errors[0]!r}")


def main() -> None:
    data_dir = Path(os.getenv("DATA_DIR", "data")).resolve()
    if not (data_dir / "warehouse.duckdb").exists():
        raise SystemExit(f"no warehouse at {data_dir}/warehouse.duckdb: run `make run` first")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATA_DIR=str(data_dir), DAGSTER_DEPLOYMENT="local", API_SNAPSHOT_DIR=str(data_dir / ".bench-snapshots"))
    keys = tempfile.TemporaryDirectory(prefix="bench-api-keys-")
    store = KeyStore(Path(keys.name) / "api_keys.sqlite")
    HEADERS["Authorization"] = f"Bearer {store.create('bench', ('air-quality',))}"
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
        cached = run({**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"})
    finally:
        redis.terminate()
        redis.wait(10)
    uncached = run(env)
    print(
        json.dumps(
            {
                "path": PATH,
                "seconds": SECONDS,
                "connections": CONNECTIONS,
                "cpus": os.cpu_count(),
                "cached": cached,
                "uncached": uncached,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
