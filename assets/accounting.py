"""Loss accounting per flow and day: every message of the topic is found again, counted.

Each term is counted from its own store, never derived from the others, so the identity can
fail (a row lost anywhere breaks it):

    topic messages = landed + dead-lettered                   (the landing boundary)
    landed         = clean + quarantined + duplicates          (the clean boundary)
    so        in   = clean + quarantined + duplicates + dead-lettered

- topic messages: messages in the topic whose event day is D (the landing's own rule and
  offsets), below the landing frontier: per partition, one past the highest offset of the day
  in the raw zone or its rejects. Later ones have not been landed yet (a sensor run lands a day
  range by range); they are shown as `not_yet_landed`, outside the identity. (So a lost
  message above every stored one of its partition reads as not yet landed: the raw files are
  kept by offset block, not by the range that wrote them.)
- landed: rows of `raw/<table>/day=D`; dead-lettered: distinct messages (partition, offset)
  of `raw/<table>_rejected/day=D`, the landing's record of what it sent to the DLQ.
- clean, quarantined: rows of the day in the clean zone's two tables (Parquet footers).
- duplicates: counted by the clean step from the landed rows it read: valid rows - distinct
  clean keys + rejected rows - distinct quarantine keys (its materialization of day D).
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from assets.core.days import record_day
from assets.core.lake_days import parquet_files, parquet_rows
from assets.core.stream import TopicLog
from assets.landing_io import whole_day_ranges
from assets.partitions import daily_partitions, partition_days
from assets.ports import Lake
from assets.topics import ADS_TOPIC, OPENAQ_TOPIC, USERS_TOPIC

IDENTITY = (
    "Blocking: fails when topic messages != landed + dead-lettered or landed != clean + "
    "quarantined + duplicates, i.e. in != clean + quarantined + duplicates + dead-lettered. Each "
    "term is counted from its own store (topic log, raw Parquet, rejects Parquet, clean and "
    "quarantine Parquet; duplicates = rows - distinct keys, counted by the clean step); every "
    "figure is in this check's metadata."
)
# Above this share of landed rows in quarantine a day warns; overridable per deployment.
DEFAULT_QUARANTINE_WARN_SHARE = 0.05


@dataclass(frozen=True)
class Flow:
    """Where one flow's messages go, from its topic to the clean zone."""

    topic: str
    table: str  # raw/<table>, raw/<table>_rejected, clean/<table>, clean/<table>_quarantine
    clean_asset: dg.AssetKey


FLOWS = (
    Flow(OPENAQ_TOPIC, "openaq_measurements", dg.AssetKey(["clean", "openaq_measurements"])),
    Flow(USERS_TOPIC, "randomuser_users", dg.AssetKey(["clean", "randomuser_users"])),
    Flow(ADS_TOPIC, "ads_events", dg.AssetKey(["clean", "ads_events"])),
)


def stored_messages(directory: Path) -> tuple[int, int, dict[int, int]]:
    """(rows, distinct messages (kafka_partition, kafka_offset), and per partition one past the
    highest offset) of a landing day directory; counted column-wise, as a day holds millions."""
    files = parquet_files(directory)
    if not files:
        return 0, 0, {}
    import pyarrow.dataset as pa_ds  # here, not at load: it imports pandas (~2 s)

    table = pa_ds.dataset(files, format="parquet").to_table(columns=["kafka_partition", "kafka_offset"])
    distinct = table.group_by(["kafka_partition", "kafka_offset"]).aggregate([]).num_rows
    highest = table.group_by("kafka_partition").aggregate([("kafka_offset", "max")])
    partitions, offsets = highest["kafka_partition"].to_pylist(), highest["kafka_offset_max"].to_pylist()
    return table.num_rows, distinct, {p: o + 1 for p, o in zip(partitions, offsets, strict=True)}


def landing_frontier(*frontiers: dict[int, int]) -> dict[int, int]:
    """Per partition, one past the highest offset of the day the raw zone holds (landed or rejected)."""
    return {p: max(f.get(p, 0) for f in frontiers) for p in set().union(*frontiers)}


def topic_messages(kafka: TopicLog, topic: str, day: date, frontier: dict[int, int]) -> tuple[int, int]:
    """(messages of `day` below the landing frontier, messages of `day` at or beyond it)."""
    within = beyond = 0
    for r in whole_day_ranges(kafka, topic, day):
        for record in kafka.read_range(r):
            if record_day(record) == day:
                if record.offset < frontier.get(record.partition, 0):
                    within += 1
                else:
                    beyond += 1
    return within, beyond


def counted_duplicates(instance: dg.DagsterInstance, flow: Flow, day: str) -> int | None:
    """Duplicates of the day as the clean step counted them, from its latest materialization."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=flow.clean_asset, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return None
    per_day = records[0].asset_materialization.metadata.get("per_day")
    counts = (per_day.value if per_day is not None else {}).get(day) or {}
    return counts.get("duplicates")


def day_accounts(kafka: TopicLog, lake: Lake, flow: Flow, day: date, duplicates: int | None) -> dict:
    """Every term of the day's identity, counted, and whether both boundaries balance."""
    landed, _, landed_frontier = stored_messages(lake.partition_dir("raw", flow.table, day))
    _, dead_lettered, rejected_frontier = stored_messages(lake.partition_dir("raw", f"{flow.table}_rejected", day))
    frontier = landing_frontier(landed_frontier, rejected_frontier)
    in_topic, not_yet_landed = topic_messages(kafka, flow.topic, day, frontier)
    clean = parquet_rows(lake.partition_dir("clean", flow.table, day))
    quarantined = parquet_rows(lake.partition_dir("clean", f"{flow.table}_quarantine", day))
    out = None if duplicates is None else clean + quarantined + duplicates + dead_lettered
    return {
        "topic_messages": in_topic,
        "landed": landed,
        "dead_lettered": dead_lettered,
        "clean_rows": clean,
        "quarantined_rows": quarantined,
        "duplicates": duplicates,
        "accounted_for": out,
        "not_yet_landed": not_yet_landed,
        # Where a difference is, for the reader: the identity compares the counts above.
        "missing_at_landing": in_topic - landed - dead_lettered,
        "missing_at_clean": None if duplicates is None else landed - clean - quarantined - duplicates,
        "balanced": out is not None
        and in_topic == landed + dead_lettered
        and landed == clean + quarantined + duplicates,
    }


def balance_result(per_day: dict[str, dict]) -> dg.AssetCheckResult:
    bad = sorted(day for day, accounts in per_day.items() if not accounts["balanced"])
    metadata: dict = {"per_day": per_day, "unbalanced_days": bad}
    if len(per_day) == 1:  # one partition: every term as its own figure, plotted per run
        (accounts,) = per_day.values()
        metadata |= {k: v for k, v in accounts.items() if isinstance(v, int) and not isinstance(v, bool)}
    description = "every message accounted for" if not bad else f"messages unaccounted for on {', '.join(bad)}"
    return dg.AssetCheckResult(passed=not bad, metadata=metadata, description=description)


def quarantine_warn_share() -> float:
    return float(os.getenv("QUARANTINE_WARN_SHARE", DEFAULT_QUARANTINE_WARN_SHARE))


def accounting_checks(flow: Flow) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=flow.clean_asset,
        name="messages_accounted_for",
        blocking=True,
        partitions_def=daily_partitions,
        description=IDENTITY,
    )
    def _balance(
        context: dg.AssetCheckExecutionContext, kafka: dg.ResourceParam[TopicLog], lake: dg.ResourceParam[Lake]
    ) -> dg.AssetCheckResult:
        per_day = {}
        for day in partition_days(context):
            duplicates = counted_duplicates(context.instance, flow, day.isoformat())
            per_day[day.isoformat()] = day_accounts(kafka, lake, flow, day, duplicates)
            context.log.info(f"accounting {flow.topic} {day}: {per_day[day.isoformat()]}")
        return balance_result(per_day)

    @dg.asset_check(
        asset=flow.clean_asset,
        name="quarantine_share",
        partitions_def=daily_partitions,
        description="Warns when more than QUARANTINE_WARN_SHARE (default 0.05) of a day's landed rows "
        "are in quarantine.",
    )
    def _quarantine(context: dg.AssetCheckExecutionContext, lake: dg.ResourceParam[Lake]) -> dg.AssetCheckResult:
        limit, shares = quarantine_warn_share(), {}
        for day in partition_days(context):
            landed = parquet_rows(lake.partition_dir("raw", flow.table, day))
            quarantined = parquet_rows(lake.partition_dir("clean", f"{flow.table}_quarantine", day))
            shares[day.isoformat()] = round(quarantined / landed, 6) if landed else 0.0
        worst = max(shares.values(), default=0.0)
        return dg.AssetCheckResult(
            passed=worst <= limit,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantine_share": worst, "warn_above": limit, "per_day": shares},
        )

    return [_balance, _quarantine]


checks = [check for flow in FLOWS for check in accounting_checks(flow)]
