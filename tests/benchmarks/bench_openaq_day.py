"""Benchmark: one whole day through the whole graph, as `make run` does it, at three sizes.

    make bench SIZE=S    # the default day: ~7.5k measurements, 1,000 users
    make bench SIZE=M    # ~1M measurements, 100k users
    make bench SIZE=L    # ~10M measurements, 1M users
    BENCH_LOCATIONS=... BENCH_INTERVAL_MINUTES=... BENCH_USERS=... make bench   # any other size

Runs `dagster asset materialize --select '*'` (both flows, landing, Spark, sinks, dbt marts and
tests) in a fresh DATA_DIR and DAGSTER_HOME, samples the peak RSS of its Python process and of
Spark's JVM while it runs, reads per-step seconds and row counts from the run's event log, then
times the floor: DuckDB parsing, cleaning, deduplicating and aggregating the same landed raw
files by day. Prints one JSON document. Figures, not a test: nothing is asserted.

    make bench DAYS=30   # 30 days as one run (--partition-range), as a backfill of them runs,
                         # then one day in a fresh DATA_DIR: the ratio of the two (target <= 5x)
    make bench WARM=1    # what `make dev` starts, then the day as the daily schedule launches it

WARM=1 starts the Spark Connect server and `dagster dev` (webserver, daemon, code server) and
waits until both answer; it then submits the schedule's own run request for the day (queued,
dequeued by the daemon, launched in a run process) and reports that run alone, from its start
to its end in the instance.
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from orchestration import spark_server  # noqa: E402 - standard library only, no Dagster

# (sample locations, monitors' interval in minutes, users): ~1,013 measurements a location at 5 min.
SIZES = {"S": (20, 60, 1_000), "M": (987, 5, 100_000), "L": (9_870, 5, 1_000_000)}
DAY = os.getenv("BENCH_DAY", "2026-11-20")


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += map(int, children)
        frontier += map(int, children)
    return found


def watch_peaks(root: int, peaks: dict, done: threading.Event) -> None:
    """Poll the run's process tree and the Spark Connect server: VmHWM is each process's peak
    so far, so polling often enough to see a process before it exits gives its peak. Keyed by
    what runs in it (the server's JVM is `jvm`: the steps hold none)."""
    while not done.is_set():
        server = spark_server.recorded_pid(spark_server.ServerSettings(remote=spark_server.url()))
        for pid in [root, *_descendants(root), *([server] if server else [])]:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            kind = "jvm" if cmd.endswith("java") else "python_run" if pid == root else "other"
            peaks[kind] = max(peaks.get(kind, 0), _peak_kib(pid))
        done.wait(0.5)


def run_day(env: dict, days: int) -> tuple[float, float, dict, int]:
    cmd = [str(ROOT / ".venv/bin/dagster"), "asset", "materialize", "--select", "*"]
    if days == 1:
        cmd += ["--partition", DAY]
    else:  # one run over the range (single-run backfill policy), as a backfill of those days is
        first = (date.fromisoformat(DAY) - timedelta(days=days - 1)).isoformat()
        cmd += ["--partition-range", f"{first}...{DAY}"]
    cmd += ["-m", "orchestration.definitions"]
    peaks: dict = {}
    done = threading.Event()
    started = time.perf_counter()
    with open(Path(env["DATA_DIR"]) / "run.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        watcher = threading.Thread(target=watch_peaks, args=(proc.pid, peaks, done), daemon=True)
        watcher.start()
        code = proc.wait()
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    # CPU of the run and every process it reaped (dbt, Spark's JVM): on a shared machine the
    # wall time says how busy the neighbours were, this says what the run cost.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime, {k: round(v / 1024, 1) for k, v in peaks.items()}, code


def _dagster_home(data_dir: Path) -> Path:
    home = data_dir / ".dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "orchestration/instance/local.yaml").read_text())
    return home


def one_day_beside(env: dict, data_dir: Path) -> dict:
    """The default day alone, as `make bench` runs it, in a DATA_DIR of its own under the range's."""
    one_dir = data_dir / "one_day"
    one_dir.mkdir(exist_ok=True)
    home = _dagster_home(one_dir)
    wall, _, _, code = run_day(env | {"DATA_DIR": str(one_dir), "DAGSTER_HOME": str(home)}, 1)
    steps, _, _ = steps_from_event_log(str(home))
    return {"wall_seconds": round(wall, 1), "exit_code": code, "step_seconds": steps, "data_dir": str(one_dir)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def schedule_request(day: str):
    """The daily schedule's run request for `day`, from its own evaluation at the tick that
    covers it (02:00 UTC the next day): the job, the partition and the schedule's tags."""
    import dagster as dg

    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("daily_schedule")
    tick = datetime.combine(date.fromisoformat(day) + timedelta(days=1), dt_time(2), tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
    [request] = schedule.evaluate_tick(context).run_requests
    return request


def scheduled_run(env: dict, day: str) -> tuple[dict, int]:
    """WARM=1: what `make dev` starts (`dagster dev`: webserver, daemon, code server; the Spark
    server is already up), then one day submitted with the schedule's own run request, queued,
    dequeued by the daemon and launched in a run process, as the schedule's tick does. Times
    from the instance: the run's start to its end, and the queue before it."""
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    request = schedule_request(day)
    port = _free_port()
    cmd = [str(ROOT / ".venv/bin/dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(Path(env["DATA_DIR"]) / "dev.log", "w") as log:
        dev = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client, ready_by = DagsterGraphQLClient("127.0.0.1", port_number=port), time.monotonic() + 600
        while True:  # the webserver answers, then the code location loads
            try:
                run_id = client.submit_job_execution(request.job_name, tags=dict(request.tags))
                break
            except (DagsterGraphQLClientError, OSError) as error:  # not up yet, or the location still loading
                if dev.poll() is not None or time.monotonic() > ready_by:
                    raise SystemExit(f"dagster dev did not take the run: {error}") from error
                time.sleep(1)
        instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
        while not (run := instance.get_run_by_id(run_id)).is_finished:
            time.sleep(0.5)
        stats = instance.get_run_stats(run_id)
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))[0]
        timings = {
            "run_id": run_id,
            "status": run.status.value,
            "run_seconds": round(stats.end_time - stats.start_time, 1),
            "queued_seconds": round(stats.start_time - record.create_timestamp.timestamp(), 1),
        }
        return timings, 0 if run.status == dg.DagsterRunStatus.SUCCESS else 1
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)


def steps_from_event_log(dagster_home: str, run_id: str | None = None) -> tuple[dict, dict, float | None]:
    """Per-step seconds, materialization row counts, and the seconds from the process start
    to the run's first step (code location load + run start) of the run in `dagster_home`."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(dagster_home)
    run = instance.get_run_by_id(run_id) if run_id else instance.get_runs(limit=1)[0]
    steps, rows, first_step = {}, {}, None
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START" and first_step is None:
            first_step = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = round(event.event_specific_data.duration_ms / 1000, 2)
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            meta = materialization.metadata
            for name in ("messages_written", "dagster/row_count", "raw_rows", "rows_written"):
                if name in meta:
                    rows.setdefault(event.step_key, {})[materialization.asset_key.to_user_string()] = meta[name].value
                    break
    return steps, rows, first_step


FLOOR_SQL = """
with raw as (
    select kafka_partition, kafka_offset, payload::json as doc from read_parquet('{raw}/*.parquet')
), parsed as (
    select (doc->>'sensor_id')::bigint as sensor_id,
           (doc->'measurement'->'parameter'->>'id')::int as parameter_id,
           try_cast(doc->'measurement'->>'value' as double) as value,
           try_cast(doc->'measurement'->'period'->'datetimeTo'->>'utc' as timestamptz) as period_end
    from raw
), valid as (
    select * from parsed
    where value is not null and period_end is not null and value > -999 and value < 9999
      and period_end::date = date '{day}'
), deduped as (
    select distinct on (sensor_id, period_end) * from valid
)
select sensor_id, parameter_id, period_end::date as day, count(*) as n, avg(value), min(value), max(value)
from deduped group by all
"""


def floor_seconds(data_dir: Path) -> tuple[float, int]:
    """DuckDB doing parse + clean + dedupe + daily aggregate on the landed files: the floor."""
    import duckdb

    raw = data_dir / "raw" / "openaq_measurements" / f"day={DAY}"
    started = time.perf_counter()
    with duckdb.connect() as con:
        groups = con.execute(f"select count(*) from ({FLOOR_SQL.format(raw=raw, day=DAY)})").fetchone()[0]
    return round(time.perf_counter() - started, 2), groups


def import_dagster_seconds() -> float:
    """`python -c "import dagster"`, measured beside the run: the yardstick of the S targets."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dagster"], check=True)
    return round(time.perf_counter() - started, 2)


def reference_floor_seconds(data_dir: Path) -> float | None:
    """The shared yardstick (../shared/bench/measurements_floor.py) on the landed raw day."""
    script = ROOT.parent / "shared" / "bench" / "measurements_floor.py"
    if not script.exists():
        return None
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, str(script), str(data_dir / "raw" / "openaq_measurements" / f"day={DAY}"), out],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])["total_s"]


def main() -> None:
    size = os.getenv("SIZE", "S").upper()
    locations, interval, users = SIZES[size]
    locations = int(os.getenv("BENCH_LOCATIONS", locations))
    interval = int(os.getenv("BENCH_INTERVAL_MINUTES", interval))
    users = int(os.getenv("BENCH_USERS", users))
    data_dir = Path(os.getenv("BENCH_DATA_DIR") or tempfile.mkdtemp(prefix=f"airstream-bench-{size}-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    home = _dagster_home(data_dir)
    env = os.environ | {
        "DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DEPLOYMENT": "local",
        "SOURCES_MODE": "sample",
        "OPENAQ_SAMPLE_LOCATIONS": str(locations),
        "OPENAQ_SAMPLE_INTERVAL_MINUTES": str(interval),
        "RANDOMUSER_USERS_PER_DAY": str(users),
    }
    days = int(os.getenv("DAYS", "1"))
    warm = os.getenv("WARM", "") not in ("", "0")
    # The Spark Connect server, as `make run` has it: one that answers is used; else one is
    # started as the run starts (not timed) and stopped after it. WARM=1 starts it first and
    # waits until it answers (as `make dev` keeps one), so the run meets a server that is up.
    server = spark_server.ServerSettings(remote=spark_server.url())
    ours = spark_server.start(server)
    # A range is compared with one day run under the same conditions: both meet a server that
    # answers, the range first, so the one day (in a fresh DATA_DIR) gets the warmer server.
    if warm or days > 1:
        spark_server.wait_ready(server, 600)
    scheduled, one_day = None, None
    try:
        yardstick = import_dagster_seconds()
        if warm:
            scheduled, code = scheduled_run(env, DAY)
            wall, cpu, peaks = scheduled["run_seconds"], None, {}
        else:
            wall, cpu, peaks, code = run_day(env, days)
        if days > 1 and not warm:
            one_day = one_day_beside(env, data_dir)
    finally:
        if ours:
            spark_server.stop(server)
    steps, rows, _ = steps_from_event_log(str(home), scheduled["run_id"] if scheduled else None)
    floor, groups = floor_seconds(data_dir)
    reference = reference_floor_seconds(data_dir)
    messages = rows.get("openaq_measurements_pull", {}).get("api/openaq_measurements")

    def rate(step: str, n) -> int | None:
        return round(n / steps[step]) if n and steps.get(step) else None

    print(
        json.dumps(
            {
                "benchmark": "whole_day",
                "size": size,
                "machine": f"{os.cpu_count()} cores, {sys.platform}",
                "sample_locations": locations,
                "interval_minutes": interval,
                "users": users,
                "exit_code": code,
                "days": days,
                "warm": warm,
                "spark_server_started_by_bench": bool(ours),
                "wall_seconds": round(wall, 1),
                "wall_seconds_per_day": round(wall / days, 1),
                # DAYS > 1: one sample day measured in the same call, and the range's wall over it
                "one_day_wall_seconds": one_day["wall_seconds"] if one_day else None,
                "days_over_one_day": round(wall / one_day["wall_seconds"], 2) if one_day else None,
                "one_day": one_day,
                "import_dagster_seconds": yardstick,
                "wall_over_import_dagster": round(wall / yardstick, 1),
                "cpu_seconds": round(cpu, 1) if cpu is not None else None,
                # WARM=1: the run the schedule's request launched under `dagster dev`; wall_seconds
                # is that run alone (its start to its end, from the instance)
                "scheduled_run": scheduled,
                "outside_steps_seconds": round(wall - sum(steps.values()), 1),
                "floor_seconds": floor,
                "floor_groups": groups,
                "wall_over_floor": round(wall / floor, 1) if floor else None,
                # ../shared/bench/measurements_floor.py on the same landed day (the yardstick)
                "reference_floor_seconds": reference,
                "wall_over_reference_floor": round(wall / reference, 1) if reference else None,
                "step_seconds": steps,
                "rows": rows,
                "rows_per_second": {
                    "pull_and_publish": rate("openaq_measurements_pull", messages),
                    "landing": rate("raw__openaq_measurements", messages),
                    "spark_clean_and_load": rate("clean_openaq_measurements", messages),
                },
                "peak_rss_mb": peaks,
                "data_dir": str(data_dir),
            },
            indent=2,
        )
    )
    sys.exit(code or (one_day["exit_code"] if one_day else 0))


if __name__ == "__main__":
    main()
