"""Benchmark: how soon the offset committer reaches lag 0 after a burst of successful ranges.

    make bench-committer                      # 500 ranges of one topic partition
    BENCH_RANGES=2000 make bench-committer

A real `dagster-daemon` evaluates the real committer sensor. Each range is landed into the raw
zone by the landing's own code (its messages are not contract-valid, so each is dead-lettered
once: a reject the raw zone holds), then its run is recorded as a success straight in the
instance, with no other pipeline work, so the figure is the committer's own latency: seconds
from the last run's success to lag 0, against the sensor's interval. Prints one JSON document.
Not a test: figures, no assertions.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestration.committer import kafka_offset_committer
from orchestration.kafka_tags import TAG_DAYS, TAG_RANGE, TAG_TOPIC_PARTITION

TOPIC, DAY, PER_RANGE = "openaq.measurements", "2026-11-20", 20
STAMP = 1_795_176_000_000  # 2026-11-20 12:00 UTC


def main() -> None:
    ranges = int(os.getenv("BENCH_RANGES", "500"))
    work = Path(tempfile.mkdtemp(prefix="airstream-bench-committer-"))
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BENCH_TOPICS_PATH": str(work / "topics.sqlite"),
        "BENCH_LAKE": str(work / "lake"),
    }
    os.environ.update(env)

    from datetime import date

    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    from assets.core.stream import OffsetRange
    from assets.landing.day import land_ranges
    from assets.topics import LANDING_GROUP
    from orchestration.resources.kafka import EmbeddedTopicLogResource
    from orchestration.resources.lake import LakeResource

    log = EmbeddedTopicLogResource(path=env["BENCH_TOPICS_PATH"])
    lake = LakeResource(root=env["BENCH_LAKE"])
    log.ensure_topic(TOPIC)
    with log._write() as conn:  # messages only need to exist: the committer never reads them
        for i in range(ranges * PER_RANGE):
            log._append(conn, TOPIC, f"k{i}", b"{}", {}, STAMP, partition=0)
    end = log.end_offsets(TOPIC)[0]

    location = Path(__file__).with_name("committer_location.py")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-f", str(location)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        instance = dg.DagsterInstance.get()
        started = time.monotonic()
        for i in range(ranges):
            span = OffsetRange(TOPIC, 0, i * PER_RANGE, (i + 1) * PER_RANGE)
            land_ranges(log, lake, "openaq_measurements", date.fromisoformat(DAY), [span])
            tags = {
                TAG_RANGE: f"{TOPIC}/0/{i * PER_RANGE}-{(i + 1) * PER_RANGE}",
                TAG_DAYS: DAY,
                TAG_TOPIC_PARTITION: f"{TOPIC}/0",
                "dagster/partition": DAY,
            }
            run = instance.add_run(DagsterRun(job_name="land", status=DagsterRunStatus.STARTED, tags=tags))
            instance.report_dagster_event(
                DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name="land", message="ok"),
                run_id=run.run_id,
            )
        last_success = time.monotonic()
        while log.committed(LANDING_GROUP, TOPIC).get(0, 0) < end:
            if time.monotonic() - last_success > 600:
                raise SystemExit("lag did not reach 0 within 600 s")
            time.sleep(0.2)
        lag_zero = time.monotonic()
    finally:
        os.killpg(daemon.pid, signal.SIGINT)
        daemon.wait(timeout=60)

    interval = kafka_offset_committer.minimum_interval_seconds
    print(
        json.dumps(
            {
                "ranges": ranges,
                "messages": end,
                "seconds_landing_and_recording_successes": round(last_success - started, 1),
                "seconds_from_last_success_to_lag_0": round(lag_zero - last_success, 1),
                "sensor_interval_seconds": interval,
                "sensor_intervals": round((lag_zero - last_success) / interval, 2),
                "dagster_home": str(home),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
