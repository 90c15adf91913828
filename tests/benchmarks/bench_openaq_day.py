"""Benchmark: one synthetic OpenAQ day through the real assets, in one process.

    make bench                                   # about 250k measurements
    BENCH_LOCATIONS=2000 BENCH_INTERVAL_MINUTES=1 make bench   # about 12M: the "millions" case

Prints one JSON document: per step seconds and rows/s, the run's wall time, and the peak
resident memory of this process and of Spark's JVM. Not a test: figures, no assertions.
"""

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg


def jvm_peak_mb(session) -> float | None:
    proc = getattr(session.sparkContext._gateway, "proc", None)
    status = Path(f"/proc/{proc.pid}/status") if proc else None
    if not status or not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> None:
    locations = int(os.getenv("BENCH_LOCATIONS", "200"))
    interval = int(os.getenv("BENCH_INTERVAL_MINUTES", "5"))
    day = os.getenv("BENCH_DAY", "2026-11-20")
    data_dir = Path(os.getenv("BENCH_DATA_DIR") or tempfile.mkdtemp(prefix="airstream-bench-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SOURCES_MODE", "sample")

    from orchestration.definitions import all_assets
    from orchestration.profiles import resources_for
    from orchestration.resources.openaq import OpenAQResource

    resources = resources_for("local")
    resources["openaq"] = OpenAQResource(mode="sample", sample_locations=locations, sample_interval_minutes=interval)
    selection = dg.AssetSelection.assets(
        ["raw", "openaq_locations"],
        ["api", "openaq_measurements"],
        ["kafka", "openaq_measurements"],
        ["raw", "openaq_measurements"],
        ["clean", "openaq_measurements"],
        ["clean", "openaq_measurements_quarantine"],
    )
    started = time.perf_counter()
    result = dg.materialize(all_assets(), selection=selection, resources=resources, partition_key=day)
    wall = time.perf_counter() - started

    steps = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = round(event.event_specific_data.duration_ms / 1000, 2)
    meta = lambda node: result.asset_materializations_for_node(node)[0].metadata  # noqa: E731
    messages = meta("openaq_measurements_pull")["messages_written"].value
    cleaned = meta("clean_openaq_measurements")["clean_rows"].value

    def rate(rows, step):
        return round(rows / steps[step]) if steps.get(step) else None

    from orchestration.resources.spark import SparkResource

    print(
        json.dumps(
            {
                "benchmark": "openaq_day",
                "sample_locations": locations,
                "interval_minutes": interval,
                "messages": messages,
                "clean_rows": cleaned,
                "wall_seconds": round(wall, 1),
                "step_seconds": steps,
                "rows_per_second": {
                    "pull_and_publish": rate(messages, "openaq_measurements_pull"),
                    "landing": rate(messages, "raw__openaq_measurements"),
                    "spark_clean_and_load": rate(messages, "clean_openaq_measurements"),
                },
                "peak_rss_mb_python": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "peak_rss_mb_spark_jvm": jvm_peak_mb(SparkResource().get_session()),
                "data_dir": str(data_dir),
            },
            indent=2,
        )
    )
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
