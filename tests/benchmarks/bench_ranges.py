"""Benchmark: one sample OpenAQ day arriving as many offset ranges vs as one, through the
sensor-driven path (tests/assets/sensor_path.py: the topic sensor's runs, the committer, the
automation sensor's runs), in one process on the local profile.

    make bench-ranges                  # 50 ranges vs 1 (BENCH_RANGES)

Before each case, a fresh DATA_DIR gets the day's pull (published to the embedded topic, not
landed) and what the facts point at (the catalogue, the dimensions, the seeds). Prints one
JSON document per case and their ratio: seconds of the sensor path, runs launched, Spark steps
run, landing and lag at the end. Runs on any revision of the code (it reads the sensor's asset
selection and the automation conditions from the code location). Figures, no assertions.
"""

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

DAY = os.getenv("BENCH_DAY", "2026-11-20")
TOPIC, TABLE = "openaq.measurements", "openaq_measurements"
# What the facts need before any range lands: the pull into the topic, the catalogue, the dimensions.
SETUP = [
    ["api", "openaq_measurements"],
    ["kafka", "openaq_measurements"],
    ["raw", "openaq_locations"],
    ["clean", "openaq_locations"],
    ["clean", "openaq_sensors"],
    ["staging", "stg_openaq__locations"],
    ["staging", "stg_openaq__sensors"],
    ["marts", "dim_locations"],
    ["marts", "dim_sensors"],
    ["marts", "dim_parameters"],
    ["marts", "dim_dates"],
    ["reference", "measurement_bounds"],
    ["reference", "measurement_sentinels"],
]


def batch_for(kafka, ranges: int) -> int:
    """The largest batch that cuts the topic into at least `ranges` ranges."""
    from orchestration.resources.kafka import split_ranges

    ends = kafka.end_offsets(TOPIC)
    batch = max(1, math.ceil(sum(ends.values()) / ranges))
    while batch > 1 and len(split_ranges(TOPIC, {}, ends, batch)) < ranges:
        batch -= 1
    return batch


def case(ranges: int) -> dict:
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix=f"airstream-bench-ranges-{ranges}-")
    from assets.topics import LANDING_GROUP
    from orchestration.definitions import build_definitions
    from orchestration.resources.kafka import split_ranges
    from tests.assets.sensor_path import PathStats, drive_automation, drive_topic, start_automation

    defs = build_definitions("local")
    instance = dg.DagsterInstance.ephemeral()
    keys = [dg.AssetKey(k) for k in SETUP]
    setup = [k for k in keys if defs.resolve_asset_graph().has(k)]
    assert dg.materialize(
        list(defs.assets),
        selection=dg.AssetSelection.assets(*setup),
        resources=defs.resources,
        partition_key=DAY,
        instance=instance,
    ).success
    kafka = defs.resources["kafka"]
    batch = batch_for(kafka, ranges)
    stats = PathStats()
    start_automation(defs, instance, stats)
    started = time.perf_counter()
    drive_topic(defs, instance, TOPIC, TABLE, batch, stats)
    landed_at = time.perf_counter() - started
    drive_automation(defs, instance, stats)
    seconds = time.perf_counter() - started
    ends = kafka.end_offsets(TOPIC)
    lag = sum(end - kafka.committed(LANDING_GROUP, TOPIC).get(p, 0) for p, end in ends.items())
    return {
        "ranges": len(split_ranges(TOPIC, {}, ends, batch)),
        "messages": sum(ends.values()),
        "seconds": round(seconds, 1),
        "seconds_to_land": round(landed_at, 1),
        "runs_launched": stats.runs,
        "sensor_runs": stats.sensor_runs,
        "automation_runs": stats.automation_runs,
        "spark_steps": stats.spark_steps,
        "failed_runs": len(stats.failed_runs),
        "consumer_lag": lag,
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("SOURCES_MODE", "sample")
    many = case(int(os.getenv("BENCH_RANGES", "50")))
    one = case(1)
    print(json.dumps({"many": many, "one": one, "ratio_seconds": round(many["seconds"] / one["seconds"], 2)}, indent=2))


if __name__ == "__main__":
    main()
