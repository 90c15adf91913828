"""The one long-lived Spark that every step and run shares: a Spark Connect server.

A Spark step is a Connect client (`orchestration/resources/spark.py`): it holds no JVM, so it
pays neither a JVM start nor the cold first queries of a new driver; the server pays them once
and stays warm for every later step and run. The server ships in the pyspark wheel
(`spark-connect_2.13-*.jar`) and is launched with the wheel's `spark-submit`.

- `make dev` starts one and keeps it for the session; `make run` uses one that answers, or
  starts one for the run and stops it at the end.
- In front of a cluster (the compose stack): `serve --master spark://...` runs the server in the
  foreground as a container's process; its driver plans, the standalone cluster's executors
  do the work, and every run of the code location connects to it (`SPARK_MASTER_URL=sc://...`).
- A local-profile run that finds no server starts one itself (`SparkResource(start_server=True)`)
  and leaves it running for the next run: `python -m orchestration.spark_server stop` ends it.

Standard library only: `make run` calls this before and after the run, and it must cost
nothing beside the run itself.

    python -m orchestration.spark_server start    # in the background; prints "started" or "running"
    python -m orchestration.spark_server stop     # the server this checkout started (pid file)
    python -m orchestration.spark_server status
    python -m orchestration.spark_server serve --master spark://HOST:7077   # foreground (containers)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DEFAULT_URL = "sc://127.0.0.1:15002"
REPO = Path(__file__).resolve().parents[1]
# The class-data-sharing archive `make setup` dumps from a warmed server
# (orchestration/resources/spark_classes.py): the server's JVM maps Spark's classes from it.
DEFAULT_ARCHIVE = Path(sys.prefix) / "spark-classes.jsa"

# Settings of the server's own Spark, applied once at its start. The session settings every
# client sets (time zone, shuffle partitions, codec) are in orchestration/resources/spark.py.
SERVER_CONF = {
    "spark.ui.enabled": "false",
    "spark.log.level": "WARN",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.compression.codec": "zstd",
    # A run killed mid-step leaves its work on the server: an operation no client is attached
    # to is interrupted after a minute (a live client re-attaches within seconds), and the
    # session with what it cached is reaped after 15 minutes without a client.
    "spark.connect.execute.manager.detachedTimeout": "60s",
    "spark.connect.session.manager.defaultSessionTimeout": "15min",
}


class SparkServerError(RuntimeError):
    pass


def url() -> str:
    """The server's address: `SPARK_REMOTE` (Spark's own variable), else the local default."""
    return os.environ.get("SPARK_REMOTE") or DEFAULT_URL


def address(remote: str) -> tuple[str, int]:
    parsed = urlparse(remote)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise SparkServerError(f"not a Spark Connect URL: {remote!r} (expected sc://HOST:PORT)")
    return parsed.hostname, parsed.port or 15002


def answering(remote: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at the server's port (its gRPC service binds
    only once its SparkContext is up)."""
    try:
        with socket.create_connection(address(remote), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    remote: str
    master: str = "local[*]"
    driver_memory: str = "3g"
    conf: Mapping[str, str] = field(default_factory=dict)
    home: Path = field(default_factory=lambda: Path(os.environ.get("SPARK_CONNECT_HOME", REPO / ".spark-connect")))
    class_archive: Path | None = DEFAULT_ARCHIVE

    @property
    def port(self) -> int:
        return address(self.remote)[1]

    @property
    def pid_file(self) -> Path:
        return self.home / f"server-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"server-{self.port}.log"

    def java_conf(self) -> dict[str, str]:
        """`SERVER_CONF` and `conf`, with the class archive (when there is one) added to the
        driver's JVM options: a stale or missing archive only makes the start slower."""
        conf = {**SERVER_CONF, **self.conf}
        if self.class_archive and self.class_archive.exists():
            option = f"-XX:SharedArchiveFile={self.class_archive}"
            conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {option}".strip()
        return conf

    def command(self) -> list[str]:
        spark_home = _spark_home()
        host = address(self.remote)[0]
        conf = {
            **self.java_conf(),
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.connect.grpc.binding.address": host,
        }
        argv = [str(spark_home / "bin" / "spark-submit"), "--class", CLASS, "--name", "airstream Spark Connect"]
        argv += ["--master", self.master, "--driver-memory", self.driver_memory]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        return argv

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The server is no client: with these set, spark-submit would try to connect to itself.
        for name in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
            env.pop(name, None)
        env["SPARK_CONNECT_MODE"] = "0"
        env["SPARK_HOME"] = str(_spark_home())
        # Python workers (for any Python the server must run) use this interpreter and its packages.
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        if self.master.startswith("local"):
            env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # else the first non-loopback address, which may not route
        return env


def _spark_home() -> Path:
    """The pyspark wheel's directory: its bin/, jars/ and sbin/ are a Spark distribution."""
    import importlib.util  # found, not imported: pyspark itself costs most of a second

    return Path(importlib.util.find_spec("pyspark").origin).parent


def _started(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) while any of its threads runs, else
    None. With the pid it names one process for good: a recycled pid has another start time,
    and unlike the command line it does not change while spark-submit execs its way to the
    JVM. Threads, not the process's own state: a JVM's first thread can be a zombie while the
    others still run (and hold the port)."""
    try:
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (OSError, IndexError):
        return None
    states = []
    for task in tasks:
        # A JVM's threads come and go: one that ended after the listing is skipped, not taken
        # for the whole process being gone (CI: a live server's pid read as None).
        with contextlib.suppress(OSError, IndexError):
            states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
    return started if any(state not in ("Z", "X") for state in states) else None


def recorded_pid(settings: ServerSettings) -> int | None:
    """The server this checkout started, while it runs."""
    try:
        pid, started = settings.pid_file.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return int(pid) if _started(int(pid)) == started else None


@contextlib.contextmanager
def _locked(settings: ServerSettings) -> Iterator[None]:
    """Check-then-start under a file lock: two steps (or `make run` and its run) that find no
    server start one between them, not two."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / f"server-{settings.port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def start(settings: ServerSettings) -> int | None:
    """Start a server in the background unless one answers or is starting; the new pid, or
    None when there was one already. Returns at once: `wait_ready` waits."""
    import subprocess

    with _locked(settings):
        if answering(settings.remote) or recorded_pid(settings):
            return None
        host = address(settings.remote)[0]
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SparkServerError(
                f"no Spark Connect server answers at {settings.remote}, and it is not on this machine"
            )
        with open(settings.log_file, "ab") as log:  # appended: an earlier server's end stays readable
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(settings.command())}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                settings.command(),
                env=settings.environment(),
                cwd=settings.home,  # Spark's scratch (spark-warehouse, metastore) stays out of the repo
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the step or `make run` that started it
            )
        settings.pid_file.write_text(f"{proc.pid} {_started(proc.pid)}\n")
        return proc.pid


def wait_ready(settings: ServerSettings, ceiling: float) -> None:
    """Until the server answers; a server that exits meanwhile fails at once, with its log."""
    deadline = time.monotonic() + ceiling
    while not answering(settings.remote):
        pid = recorded_pid(settings)
        if pid is None and not answering(settings.remote):
            raise SparkServerError(
                f"the Spark Connect server for {settings.remote} is not running\n{log_tail(settings)}"
            )
        if time.monotonic() > deadline:
            raise SparkServerError(
                f"the Spark Connect server (pid {pid}) did not answer at {settings.remote} within {ceiling:.0f} s\n"
                f"{log_tail(settings)}"
            )
        time.sleep(0.2)


def ensure(settings: ServerSettings, ceiling: float) -> int | None:
    pid = start(settings)
    wait_ready(settings, ceiling)
    return pid


def stop(settings: ServerSettings, grace: float = 60.0) -> int | None:
    """Stop the server this checkout started (its pid file): SIGTERM lets the JVM exit cleanly
    (and write a class archive it was asked to dump), SIGKILL after `grace`. Returns once the
    process is gone and the port closed. The stopped pid, or None."""
    pid = recorded_pid(settings)
    if pid is None:
        settings.pid_file.unlink(missing_ok=True)
        return None
    os.killpg(pid, signal.SIGTERM)
    if not _gone(settings, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if not _gone(settings, 60.0):
            raise SparkServerError(
                f"the Spark Connect server (pid {pid}) still answers at {settings.remote} after SIGKILL"
            )
    settings.pid_file.unlink(missing_ok=True)
    return pid


def _gone(settings: ServerSettings, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while recorded_pid(settings) or answering(settings.remote, timeout=0.2):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def log_tail(settings: ServerSettings, chars: int = 3000) -> str:
    try:
        return settings.log_file.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.spark_server", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--wait", action="store_true", help="start: return once the server answers")
    parser.add_argument(
        "--master", default="local[*]", help="serve: where the work runs (spark://HOST:PORT for a cluster)"
    )
    args = parser.parse_args(argv)
    settings = ServerSettings(remote=url(), driver_memory=args.driver_memory, master=args.master)
    if args.action == "serve":
        # The container's own process: the JVM replaces this one, so signals and the exit code
        # are the server's. It listens on SPARK_REMOTE's host and port (sc://0.0.0.0:15002).
        command = settings.command()
        os.execve(command[0], command, settings.environment())
    if args.action == "start":
        pid = start(settings)
        if args.wait:
            wait_ready(settings, float(os.environ.get("SPARK_CONNECT_START_SECONDS", "600")))
        print("started" if pid else "running", flush=True)
        state = f"starting, pid {pid}" if pid else "already there"
        print(f"Spark Connect at {settings.remote}: {state}", file=sys.stderr)
    elif args.action == "stop":
        pid = stop(settings)
        print(f"stopped pid {pid}" if pid else f"no server of this checkout at {settings.remote}")
    else:
        pid = recorded_pid(settings)
        state = "answering" if answering(settings.remote) else "starting" if pid else "down"
        print(f"{settings.remote}: {state}" + (f" (pid {pid}, log {settings.log_file})" if pid else ""))
        return 0 if state == "answering" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
