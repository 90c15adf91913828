"""The platform's Prometheus series as pure functions of what was read: no I/O here.

`exporter.py` reads the Dagster instance, the topics and the warehouse into plain values;
these functions turn them into metric families. Every family is produced even when empty,
so a dashboard query finds its series before the first failure or DLQ message.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from assets.core.days import day_window
from assets.landing.held import overdue

# The row counts per asset and day that the landing and clean steps put in their
# materialization metadata (`per_day[<day>][<measure>]`); exported under these names.
ROW_MEASURES = (
    "landed",
    "added",
    "rejected",
    "dead_lettered",
    "deferred",
    "raw_rows",
    "clean_rows",
    "quarantined_rows",
    "duplicates",
)
RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS", "FAILURE", "CANCELING", "CANCELED")
RUN_DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


@dataclass(frozen=True)
class HeldSample:
    topic: str
    held: Mapping[date, int]  # messages in the holding area per event day
    released: Mapping[date, int]  # messages of raw days that came through the holding area


@dataclass(frozen=True)
class RunSample:
    job: str
    status: str
    duration_seconds: float | None  # None while not finished


@dataclass(frozen=True)
class TopicSample:
    topic: str
    end_offsets: Mapping[int, int]
    committed: Mapping[int, int]
    dlq_size: int


def asset_label(path: Iterable[str]) -> str:
    return "/".join(path)


def day_rows(materializations: Iterable[dict], day: str) -> dict[str, int]:
    """A day's counts from its materializations' metadata, newest first.

    A whole-day landing starts the day's directory afresh, so it ends the walk; the sensor's
    range runs after it add one file per range set, so they are added to it, each set once (a
    replay of a range overwrites its own file and repeats its metadata). Metadata without a
    `mode` (the clean steps always read the whole day) counts as whole-day.
    """
    totals: Counter = Counter()
    seen_ranges = set()
    for metadata in materializations:
        counts = (metadata.get("per_day") or {}).get(day)
        if counts is None:
            continue
        if metadata.get("mode") == "ranges":
            ranges = tuple(metadata.get("ranges") or ())
            if ranges in seen_ranges:
                continue
            seen_ranges.add(ranges)
            totals.update({k: counts[k] for k in ROW_MEASURES if isinstance(counts.get(k), int)})
            continue
        totals.update({k: counts[k] for k in ROW_MEASURES if isinstance(counts.get(k), int)})
        break
    return dict(totals)


def row_families(rows: Mapping[tuple[str, str], Mapping[str, int]]) -> list:
    family = GaugeMetricFamily(
        "airstream_asset_rows",
        "Rows per asset, partition day and measure, from the materialization metadata "
        "(landed, added, rejected, dead_lettered, raw_rows, clean_rows, quarantined_rows, duplicates, ...).",
        labels=["asset", "day", "measure"],
    )
    for (asset, day), counts in sorted(rows.items()):
        for measure, value in sorted(counts.items()):
            family.add_metric([asset, day, measure], value)
    return [family]


def freshness_families(last_success: Mapping[str, float], now: float) -> list:
    stamp = GaugeMetricFamily(
        "airstream_asset_last_materialization_timestamp_seconds",
        "Unix time of the asset's last materialization (any partition).",
        labels=["asset"],
    )
    age = GaugeMetricFamily(
        "airstream_asset_materialization_age_seconds",
        "Seconds since the asset's last materialization.",
        labels=["asset"],
    )
    for asset, ts in sorted(last_success.items()):
        stamp.add_metric([asset], ts)
        age.add_metric([asset], max(0.0, now - ts))
    return [stamp, age]


def check_families(latest: Mapping[tuple[str, str], tuple[bool, str]]) -> list:
    """`latest`: (asset, check) -> (passed, severity) of the check's last evaluation."""
    passed = GaugeMetricFamily(
        "airstream_asset_check_passed",
        "1 if the check's last evaluation passed, else 0.",
        labels=["asset", "check", "severity"],
    )
    failing = GaugeMetricFamily(
        "airstream_asset_checks_failing", "Checks of the asset whose last evaluation failed.", labels=["asset"]
    )
    per_asset: Counter = Counter()
    for (asset, check), (ok, severity) in sorted(latest.items()):
        passed.add_metric([asset, check, severity], 1.0 if ok else 0.0)
        per_asset[asset] += 0 if ok else 1
    for asset, n in sorted(per_asset.items()):
        failing.add_metric([asset], n)
    return [passed, failing]


def run_families(status_counts: Mapping[str, int], recent: Iterable[RunSample]) -> list:
    runs = GaugeMetricFamily("airstream_runs", "Runs in the Dagster instance, by status.", labels=["status"])
    for status in RUN_STATUSES:
        runs.add_metric([status], status_counts.get(status, 0))
    durations = defaultdict(list)
    for run in recent:
        if run.duration_seconds is not None:
            durations[(run.job, run.status)].append(run.duration_seconds)
    histogram = HistogramMetricFamily(
        "airstream_run_duration_seconds",
        "Durations of the recent finished runs, by job and outcome.",
        labels=["job", "status"],
    )
    for (job, status), values in sorted(durations.items()):
        buckets = [(str(b), sum(1 for v in values if v <= b)) for b in RUN_DURATION_BUCKETS]
        buckets.append(("+Inf", len(values)))
        histogram.add_metric([job, status], buckets, sum(values))
    return [runs, histogram]


def topic_families(samples: Iterable[TopicSample], group: str) -> list:
    end = GaugeMetricFamily(
        "airstream_topic_end_offset", "Next offset to be written, per topic partition.", labels=["topic", "partition"]
    )
    committed = GaugeMetricFamily(
        "airstream_consumer_committed_offset",
        "The landing group's committed offset, per topic partition.",
        labels=["topic", "partition", "group"],
    )
    lag = GaugeMetricFamily(
        "airstream_consumer_lag",
        "End offset minus committed offset, per topic partition.",
        labels=["topic", "partition", "group"],
    )
    dlq = GaugeMetricFamily("airstream_dlq_messages", "Messages in the topic's dead-letter topic.", labels=["topic"])
    for s in samples:
        for p, offset in sorted(s.end_offsets.items()):
            done = s.committed.get(p, 0)
            end.add_metric([s.topic, str(p)], offset)
            committed.add_metric([s.topic, str(p), group], done)
            lag.add_metric([s.topic, str(p), group], max(0, offset - done))
        dlq.add_metric([s.topic], s.dlq_size)
    return [end, committed, lag, dlq]


def held_families(samples: Iterable[HeldSample], now: datetime, alert_days: float) -> list:
    """The raw zone's holding area per topic (assets/landing/held.py), with the check's overdue rule."""
    held = GaugeMetricFamily(
        "airstream_held_messages",
        "Future-dated messages waiting in the raw zone's holding area for their day to be a partition.",
        labels=["topic"],
    )
    oldest = GaugeMetricFamily(
        "airstream_held_oldest_day_timestamp_seconds",
        "Unix time of the start of the oldest held message's event day (absent when none is held).",
        labels=["topic"],
    )
    late = GaugeMetricFamily(
        "airstream_held_overdue_messages",
        "Held messages whose day ended more than HELD_MESSAGE_ALERT_DAYS days ago: not moved in by its landing.",
        labels=["topic"],
    )
    released = GaugeMetricFamily(
        "airstream_held_released_messages",
        "Messages of the raw day that came through the holding area (ingested before the day ended), "
        "counted from the raw zone.",
        labels=["topic", "day"],
    )
    for s in samples:
        held.add_metric([s.topic], sum(s.held.values()))
        if s.held:
            oldest.add_metric([s.topic], day_window(min(s.held))[0].timestamp())
        late.add_metric([s.topic], sum(overdue(s.held, now, alert_days).values()))
        for day, n in sorted(s.released.items()):
            released.add_metric([s.topic, day.isoformat()], n)
    return [held, oldest, late, released]


def warehouse_families(table_rows: Mapping[str, int]) -> list:
    family = GaugeMetricFamily("airstream_mart_rows", "Rows in each table of schema marts.", labels=["table"])
    for table, n in sorted(table_rows.items()):
        family.add_metric([table], n)
    return [family]


def source_families(up: Mapping[str, bool]) -> list:
    family = GaugeMetricFamily(
        "airstream_exporter_source_up", "1 if the exporter read the source at this scrape, else 0.", labels=["source"]
    )
    for source, ok in sorted(up.items()):
        family.add_metric([source], 1.0 if ok else 0.0)
    return [family]
