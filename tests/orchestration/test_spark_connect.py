"""One long-lived Spark for every step and run: runs are Spark Connect clients of the one server
(orchestration/spark_server.py), and a step process holds no JVM."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from orchestration import spark_server
from tests.orchestration.live_instance import free_port
from tests.waiting import WAIT_SECONDS

REPO = Path(__file__).resolve().parents[2]

# A clean step (tests/assets/clean_step_fixture.py) materialized in a process of its own, as a
# run is: it prints the server's Spark application id and the rows it wrote.
RUN = """
import sys
import pyarrow.parquet as pq
from pyspark import SparkContext
from clean_step_fixture import DAY, clean, land_raw
from orchestration.resources.spark import SparkResource

root, rows = sys.argv[1], int(sys.argv[2])
land_raw(root, rows)
assert clean(root).success
assert SparkContext._active_spark_context is None, "a JVM driver in the step process"
session = SparkResource(prestart=False).get_session()
print("APP", session.conf.get("spark.app.id"))
print("ROWS", pq.read_table(f"{root}/clean/t/day={DAY}").num_rows)
"""


def java_processes() -> dict[int, tuple[int, str]]:
    """Every JVM on the machine: pid -> (parent pid, command line)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if argv and argv[0].endswith(b"/java"):
            found[int(proc.name)] = (ppid, b" ".join(argv).decode(errors="replace"))
    return found


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def test_two_runs_in_a_row_share_one_server_and_no_step_process_holds_a_jvm(spark, spark_connect_server, tmp_path):
    server = spark_server.recorded_pid(spark_connect_server)
    assert server is not None and spark_server.answering(spark_connect_server.remote)
    app = spark.conf.get("spark.app.id")
    before = java_processes()

    outputs, jvms_of_runs, servers_seen = [], [], set()
    for run, rows in enumerate((100, 250)):
        root = tmp_path / f"run{run}"
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(root), str(rows)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests' / 'assets'}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Sampled every 20 ms for the whole run: a JVM takes seconds to start, so one started by
        # the run (directly or through a launcher) cannot slip between two samples.
        done = threading.Event()

        def sample(run_pid=proc.pid, done=done):
            while not done.is_set():
                for pid, (ppid, argv) in java_processes().items():
                    # The server forks to run commands (Hadoop's file system runs `chmod`, Python
                    # workers start): until it execs, a fork reads as the server. Not a JVM of a run.
                    own_fork = ppid == server
                    if f"spark.connect.grpc.binding.port={spark_connect_server.port}" in argv and not own_fork:
                        servers_seen.add(pid)
                    if descends_from(pid, run_pid):
                        jvms_of_runs.append(argv)
                done.wait(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            out, err = proc.communicate(timeout=WAIT_SECONDS)
        finally:
            done.set()
            sampler.join()
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out.split())

    assert jvms_of_runs == []
    # Both runs ran on the suite's server: same application, and it is the only Connect server there was.
    assert outputs == [["APP", app, "ROWS", "90"], ["APP", app, "ROWS", "225"]]
    # The suite's server was the one server for this address while the runs ran.
    assert servers_seen == {server} and server in before
    assert spark_server.recorded_pid(spark_connect_server) == server


def test_a_run_that_finds_no_server_starts_one_and_a_second_run_reuses_it(tmp_path):
    """`SparkResource(start_server=True)` on a port where nothing answers (the local profile on
    a fresh machine): the first session starts the server, the second finds it."""
    from orchestration.resources.spark import SparkResource

    remote = f"sc://127.0.0.1:{free_port()}"
    settings = spark_server.ServerSettings(remote=remote)
    assert not spark_server.answering(remote) and spark_server.recorded_pid(settings) is None
    probe = (
        "from orchestration.resources.spark import SparkResource as R; "
        f"s = R(remote={remote!r}, start_server=True, prestart=False).get_session(); "
        "print(s.conf.get('spark.app.id'), s.range(7).count())"
    )
    try:
        apps = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=WAIT_SECONDS
            )
            assert done.returncode == 0, done.stderr[-3000:]
            apps.append(done.stdout.split())
            if len(apps) == 1:
                first = spark_server.recorded_pid(settings)
                assert first is not None
        assert apps[0] == apps[1] and apps[0][1] == "7"
        assert spark_server.recorded_pid(settings) == first
    finally:
        assert spark_server.stop(settings) == first
    assert not spark_server.answering(remote)
    with pytest.raises(spark_server.SparkServerError, match="not on this machine"):
        spark_server.start(spark_server.ServerSettings(remote="sc://spark.invalid:15002", home=tmp_path))
    assert SparkResource(remote="sc://h:1").url() == "sc://h:1"


def test_a_classic_session_is_refused_in_a_process_that_pyspark_keeps_in_connect_mode():
    """With SPARK_REMOTE set (as here: tests/conftest.py), pyspark would turn a classic session
    into a Connect one without a URL; the resource says why instead."""
    import dagster as dg

    from orchestration.resources.spark import SparkResource

    assert "SPARK_REMOTE" in os.environ
    with pytest.raises(dg.DagsterInvariantViolationError, match="SPARK_REMOTE.*unset it"):
        SparkResource(master="local[1]", prestart=False).get_session()
