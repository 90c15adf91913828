"""Loss accounting per flow and day: every message of the topic is found again, counted.

Each term is counted from its own store, never derived from the others, so the identity can
fail (a row lost anywhere breaks it):

    topic messages = landed + dead-lettered + held            (the landing boundary)
    landed         = clean + quarantined + duplicates          (the clean boundary)
    so        in   = clean + quarantined + duplicates + dead-lettered

- topic messages: messages in the topic whose event day is D (the landing's own rule and
  offsets) that the platform has declared landed: below the consumer group's committed offset
  (the commit follows the raw zone), inside a range a landing of day D says it read (its
  materializations' `covered`), or below the highest offset the raw zone holds for D. Later
  ones have not been landed yet (a sensor run lands a day range by range); they are shown as
  `not_yet_landed`, outside the identity. A declared message that the raw zone holds neither
  as landed nor as rejected is `lost`, named by partition and offset range: a partition's last
  message, or a whole partition, missing from raw fails the check like any other.
- held: distinct messages of `raw/<table>_held/day=D`, landed before D was a partition and
  not moved into it yet (assets/landing/held.py): neither lost nor landed in the day.
- landed: rows of `raw/<table>/day=D`.
- dead-lettered: distinct messages (original partition, offset) of the day's declared messages
  that the DLQ topic (`<topic>.dlq`) holds, read from the topic itself. The landing's own record
  (`raw/<table>_rejected/day=D`) is shown as `rejects_recorded` and declares offsets landed; it
  is not the term. A message the landing recorded as rejected that the DLQ does not hold is
  `lost`, and the term that moved is `dead_lettered`.
- clean, quarantined: rows of the day in the clean zone's two tables (Parquet footers).
- duplicates: counted by the clean step from the landed rows it read: valid rows - distinct
  clean keys + rejected rows - distinct quarantine keys (its materialization of day D).

Downstream of the clean zone the identity goes on in the serving stores and the marts, each a
check on the asset that writes them, so it runs when their data exists (assets/serving_accounting.py).
"""

import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from assets.core.days import day_window, record_day
from assets.core.lake_days import parquet_files, parquet_rows
from assets.core.stream import TopicLog
from assets.landing.held import held_table
from assets.landing.ranges import whole_day_ranges
from assets.landing.write import in_dlq
from assets.partitions import daily_partitions, partition_days
from assets.ports import Lake
from assets.streams import STREAMS, Stream
from assets.topics import LANDING_GROUP

IDENTITY = (
    "Blocking: fails when topic messages != landed + dead-lettered + held or landed != clean + "
    "quarantined + duplicates, i.e. in != clean + quarantined + duplicates + dead-lettered, or when "
    "a message declared landed (below the committed offset, or in a range a landing read) is in "
    "neither the raw zone nor the DLQ topic (`lost`, by partition and offset range). Each "
    "term is counted from its own store (topic log, raw Parquet, DLQ topic, clean and "
    "quarantine Parquet; duplicates = rows - distinct keys, counted by the clean step); every "
    "figure, and the term that moved (`moved`), is in this check's metadata."
)
# Above this share of landed rows in quarantine a day warns; overridable per deployment.
DEFAULT_QUARANTINE_WARN_SHARE = 0.05


@dataclass(frozen=True)
class Stored:
    """What a landing day directory holds: rows, distinct messages, and each partition's offsets."""

    rows: int
    distinct: int
    offsets: dict  # partition -> pyarrow array of the offsets held

    def frontier(self) -> dict[int, int]:
        """Per partition, one past the highest offset held."""
        import pyarrow.compute as pc

        return {p: pc.max(o).as_py() + 1 for p, o in self.offsets.items() if len(o)}


def stored_messages(directory: Path) -> Stored:
    """What a landing day directory holds, read column-wise, as a day holds millions of rows."""
    files = parquet_files(directory)
    if not files:
        return Stored(0, 0, {})
    import pyarrow.compute as pc
    import pyarrow.dataset as pa_ds  # here, not at load: it imports pandas (~2 s)

    table = pa_ds.dataset(files, format="parquet").to_table(columns=["kafka_partition", "kafka_offset"])
    distinct = table.group_by(["kafka_partition", "kafka_offset"]).aggregate([]).num_rows
    offsets = {
        p: table.filter(pc.equal(table["kafka_partition"], p))["kafka_offset"].combine_chunks()
        for p in pc.unique(table["kafka_partition"]).to_pylist()
    }
    return Stored(table.num_rows, distinct, offsets)


def stored_pairs(pairs: set[tuple[int, int]]) -> Stored:
    """Distinct (partition, offset) pairs held by a store that is not a Parquet directory (the DLQ)."""
    import pyarrow as pa

    offsets: dict[int, list[int]] = {}
    for partition, offset in pairs:
        offsets.setdefault(partition, []).append(offset)
    return Stored(len(pairs), len(pairs), {p: pa.array(sorted(o), pa.int64()) for p, o in offsets.items()})


def dead_lettered_of_day(dlq: set[tuple[int, int]], within: dict[int, list[int]]) -> Stored:
    """The day's declared messages that the DLQ topic holds (`dlq`: the topic's (partition,
    offset) pairs, read from the DLQ topic once for the run's days)."""
    day = {(p, o) for p, offsets in within.items() for o in offsets}
    return stored_pairs(dlq & day)


def recorded_of_day(rejected: Stored, within: dict[int, list[int]]) -> dict[int, list[int]]:
    """Per partition, the day's declared offsets that the landing recorded as rejected."""
    out = {}
    for partition, offsets in within.items():
        recorded = set(rejected.offsets[partition].to_pylist()) if partition in rejected.offsets else set()
        if mine := [o for o in offsets if o in recorded]:
            out[partition] = mine
    return out


def declared_ranges(instance: dg.DagsterInstance, flow: Stream, day: str) -> dict[int, list[tuple[int, int]]]:
    """Per partition, the [start, end) ranges that landings of `day` say they read, merged."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=flow.raw_key, asset_partitions=[day]), limit=10_000
    ).records
    spans: dict[int, list[tuple[int, int]]] = {}
    for record in records:
        per_day = record.asset_materialization.metadata.get("per_day")
        covered = ((per_day.value if per_day is not None else {}).get(day) or {}).get("covered") or {}
        for partition, pairs in covered.items():
            spans.setdefault(int(partition), []).extend((start, end) for start, end in pairs)
    merged = {}
    for partition, pairs in spans.items():
        out: list[tuple[int, int]] = []
        for start, end in sorted(pairs):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[partition] = out
    return merged


def landing_bound(
    committed: dict[int, int], declared: dict[int, list[tuple[int, int]]], *frontiers: dict[int, int]
) -> Callable[[int, int], bool]:
    """Whether the platform has declared (partition, offset) landed: below the committed offset or
    a raw frontier, or inside a range a landing read."""
    below = {p: max(f.get(p, 0) for f in (committed, *frontiers)) for p in set().union(committed, *frontiers)}
    starts = {p: [s for s, _ in spans] for p, spans in declared.items()}

    def declared_landed(partition: int, offset: int) -> bool:
        if offset < below.get(partition, 0):
            return True
        spans = declared.get(partition)
        i = bisect_right(starts[partition], offset) - 1 if spans else -1
        return i >= 0 and offset < spans[i][1]

    return declared_landed


def topic_messages(
    kafka: TopicLog, topic: str, bounds: dict[date, Callable[[int, int], bool]]
) -> dict[date, tuple[dict[int, list[int]], int]]:
    """Per day of `bounds`: (per partition, the offsets of the day's messages declared landed;
    how many of the day's messages are beyond what is declared).

    A day's messages are those the landing's rule reads for it (assets/landing/ranges.py): from
    the first message stamped at or after the day's start to the end of each partition, whose
    record day is the day. Every day of a run is counted from one read of the topic, from its
    earliest day's first offset on: one read per day would read a backfill's topic once per day
    (30 days: 30 reads of up to the whole range), while each day keeps exactly its own offsets."""
    out: dict[date, tuple[dict[int, list[int]], int]] = {day: ({}, 0) for day in bounds}
    if not bounds:
        return out
    firsts = {day: kafka.offsets_for_time(topic, int(day_window(day)[0].timestamp() * 1000)) for day in bounds}
    beyond = dict.fromkeys(bounds, 0)
    for r in whole_day_ranges(kafka, topic, min(bounds)):
        for record in kafka.read_range(r):
            day = record_day(record)
            landed = bounds.get(day)
            first = firsts[day].get(record.partition) if landed is not None else None
            if first is None or record.offset < first:
                continue
            if landed(record.partition, record.offset):
                out[day][0].setdefault(record.partition, []).append(record.offset)
            else:
                beyond[day] += 1
    return {day: (within, beyond[day]) for day, (within, _) in out.items()}


def lost_messages(within: dict[int, list[int]], *held: Stored) -> tuple[dict[str, str], int]:
    """(Per partition, the declared offsets that no store holds, as ranges ("885-887, 901"); how
    many they are)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lost, count = {}, 0
    for partition, offsets in sorted(within.items()):
        found = [s.offsets[partition] for s in held if partition in s.offsets]
        values = pa.array(offsets, pa.int64())
        missing = values if not found else values.filter(pc.invert(pc.is_in(values, pa.concat_arrays(found))))
        if len(missing):
            lost[str(partition)] = offset_ranges(sorted(missing.to_pylist()))
            count += len(missing)
    return lost, count


def offset_ranges(offsets: list[int]) -> str:
    """Sorted offsets as runs: [3, 4, 5, 9] -> "3-5, 9"."""
    runs: list[list[int]] = []
    for offset in offsets:
        if runs and offset == runs[-1][1] + 1:
            runs[-1][1] = offset
        else:
            runs.append([offset, offset])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)


def counted_duplicates(instance: dg.DagsterInstance, flow: Stream, day: str) -> int | None:
    """Duplicates of the day as the clean step counted them, from its latest materialization."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=flow.clean_key, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return None
    per_day = records[0].asset_materialization.metadata.get("per_day")
    counts = (per_day.value if per_day is not None else {}).get(day) or {}
    return counts.get("duplicates")


def day_accounts(
    kafka: TopicLog,
    lake: Lake,
    flow: Stream,
    day: date,
    duplicates: int | None,
    declared: dict[int, list[tuple[int, int]]] | None = None,
) -> dict:
    """Every term of the day's identity, counted, and whether both boundaries balance."""
    return days_accounts(kafka, lake, flow, {day: (duplicates, declared)})[day]


def days_accounts(
    kafka: TopicLog,
    lake: Lake,
    flow: Stream,
    days: dict[date, tuple[int | None, dict[int, list[tuple[int, int]]] | None]],
) -> dict[date, dict]:
    """`day_accounts` of each day (its clean step's duplicates, the ranges its landings declared),
    with the topic and the DLQ topic each read once for all of them."""
    committed = kafka.committed(LANDING_GROUP, flow.topic)
    stores, bounds = {}, {}
    for day, (_, declared) in days.items():
        raw = stored_messages(lake.partition_dir("raw", flow.table, day))
        rejected = stored_messages(lake.partition_dir("raw", f"{flow.table}_rejected", day))
        # Messages of the day landed before it was a partition and not moved into it yet.
        waiting = stored_messages(lake.partition_dir("raw", held_table(flow.table), day))
        stores[day] = (raw, rejected, waiting)
        bounds[day] = landing_bound(committed, declared or {}, raw.frontier(), rejected.frontier(), waiting.frontier())
    read = topic_messages(kafka, flow.topic, bounds)
    dlq_pairs = in_dlq(kafka, flow.topic) if days else set()
    return {
        day: _accounts(lake, flow, day, duplicates, *stores[day], *read[day], dlq_pairs)
        for day, (duplicates, _) in days.items()
    }


def _accounts(
    lake: Lake,
    flow: Stream,
    day: date,
    duplicates: int | None,
    raw: Stored,
    rejected: Stored,
    waiting: Stored,
    within: dict[int, list[int]],
    not_yet_landed: int,
    dlq_pairs: set[tuple[int, int]],
) -> dict:
    dlq = dead_lettered_of_day(dlq_pairs, within)
    landed, dead_lettered, held = raw.rows, dlq.distinct, waiting.distinct
    in_topic = sum(len(offsets) for offsets in within.values())
    lost, lost_count = lost_messages(within, raw, dlq, waiting)
    # A message the landing recorded as rejected that the DLQ does not hold is missing from the
    # DLQ; any other loss, or a difference they do not explain, is missing from raw.
    unpublished, unpublished_count = lost_messages(recorded_of_day(rejected, within), dlq)
    clean = parquet_rows(lake.partition_dir("clean", flow.table, day))
    quarantined = parquet_rows(lake.partition_dir("clean", f"{flow.table}_quarantine", day))
    out = None if duplicates is None else clean + quarantined + duplicates + dead_lettered
    at_landing = in_topic - landed - dead_lettered - held
    at_clean = None if duplicates is None else landed - clean - quarantined - duplicates
    moved = ["dead_lettered"] if unpublished_count else []
    if lost_count > unpublished_count or at_landing != unpublished_count:
        moved.append("landed")
    if at_clean:
        moved.append("clean_rows + quarantined_rows + duplicates")
    return {
        "topic_messages": in_topic,
        "landed": landed,
        "dead_lettered": dead_lettered,
        "rejects_recorded": rejected.distinct,  # the landing's own record; not a term
        "held": held,
        "clean_rows": clean,
        "quarantined_rows": quarantined,
        "duplicates": duplicates,
        "accounted_for": out,
        "not_yet_landed": not_yet_landed,
        "lost_messages": lost_count,
        "lost": lost,  # partition -> offset ranges declared landed that neither raw nor the DLQ holds
        "not_in_dlq": unpublished,  # partition -> offset ranges recorded as rejected, absent from the DLQ
        # Where a difference is, for the reader: the identity compares the counts above.
        "missing_at_landing": at_landing,
        "missing_at_clean": at_clean,
        "moved": moved,
        "balanced": out is not None
        and not lost
        and in_topic == landed + dead_lettered + held
        and landed == clean + quarantined + duplicates,
    }


def balance_result(per_day: dict[str, dict]) -> dg.AssetCheckResult:
    bad = sorted(day for day, accounts in per_day.items() if not accounts["balanced"])
    metadata: dict = {"per_day": per_day, "unbalanced_days": bad}
    if len(per_day) == 1:  # one partition: every term as its own figure, plotted per run
        (accounts,) = per_day.values()
        metadata |= {k: v for k, v in accounts.items() if isinstance(v, int) and not isinstance(v, bool)}
        metadata |= {k: accounts[k] for k in ("lost", "not_in_dlq", "moved")}
    description = "every message accounted for" if not bad else f"messages unaccounted for on {', '.join(bad)}"
    moved = sorted({term for day in bad for term in per_day[day]["moved"]})
    if moved:
        description += f"; the term that moved: {', '.join(moved)}"
    lost = [f"{day} partition {p} offsets {r}" for day in bad for p, r in per_day[day]["lost"].items()]
    if lost:
        description += f"; lost from the raw zone: {'; '.join(lost)}"
    return dg.AssetCheckResult(passed=not bad, metadata=metadata, description=description)


def quarantine_warn_share() -> float:
    return float(os.getenv("QUARANTINE_WARN_SHARE", DEFAULT_QUARANTINE_WARN_SHARE))


def accounting_checks(flow: Stream) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=flow.clean_key,
        name="messages_accounted_for",
        blocking=True,
        partitions_def=daily_partitions,
        description=IDENTITY,
    )
    def _balance(
        context: dg.AssetCheckExecutionContext, kafka: dg.ResourceParam[TopicLog], lake: dg.ResourceParam[Lake]
    ) -> dg.AssetCheckResult:
        days = {
            day: (
                counted_duplicates(context.instance, flow, day.isoformat()),
                declared_ranges(context.instance, flow, day.isoformat()),
            )
            for day in partition_days(context)
        }
        per_day = {}
        for day, accounts in days_accounts(kafka, lake, flow, days).items():
            per_day[day.isoformat()] = accounts
            context.log.info(f"accounting {flow.topic} {day}: {accounts}")
        return balance_result(per_day)

    @dg.asset_check(
        asset=flow.clean_key,
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


checks = [check for stream in STREAMS for check in accounting_checks(stream)]
