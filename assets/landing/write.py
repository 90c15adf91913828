"""The raw zone keyed by message identity (topic, partition, offset), not by the run's cut.

A day's messages of one Kafka partition live in files of fixed offset blocks,
`<topic>-p<partition>-b<block>.parquet` (offsets [block * BLOCK, (block + 1) * BLOCK)). Landing
merges into a block under a file lock and adds only the offsets it does not hold yet, so any mix
of whole-day runs, sensor ranges of any size, retries and replays gives each offset one row.

The day's rejects file of the same block is the record of what was dead-lettered: a poison
message is written there as pending before it is published to the DLQ and marked done after.
A crash between the two leaves it pending; the next landing looks for it in the DLQ (by its
original_* headers) and publishes only what is not there, so each one reaches the DLQ once.
"""

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.core.lake_days import parquet_files
from assets.core.stream import OffsetRange, Record, TopicLog
from assets.ports import Lake

# Offsets per block: bounds what one merge rewrites, on million-message days too.
BLOCK = 100_000


def block_name(topic: str, partition: int, block: int) -> str:
    return f"{topic}-p{partition}-b{block:07d}"


def block_ranges(r: OffsetRange) -> list[OffsetRange]:
    """`r` cut at block boundaries, so each piece merges into one block file."""
    cuts = range((r.start // BLOCK + 1) * BLOCK, r.end, BLOCK)
    bounds = [r.start, *cuts, r.end]
    return [OffsetRange(r.topic, r.partition, a, b) for a, b in pairwise(bounds) if a < b]


@contextmanager
def locked(lake: Lake, table: str, day: date, name: str) -> Iterator[None]:
    # Concurrent runs (the sensor requests many at once) merge into the same block: without the
    # lock, one rewrite would drop the other's rows. Dot files are skipped by Spark and globs.
    directory = lake.partition_dir("raw", table, day)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_block(lake: Lake, table: str, day: date, name: str, schema: pa.Schema) -> pa.Table:
    path = lake.partition_dir("raw", table, day) / f"{name}.parquet"
    if not path.exists():
        return schema.empty_table()
    return pq.read_table(path, columns=schema.names, schema=schema)


def merge_new(lake: Lake, table: str, day: date, name: str, new: pa.Table) -> int:
    """Add the rows of `new` whose offsets the block does not hold; returns rows added.
    Call under `locked`."""
    existing = read_block(lake, table, day, name, new.schema)
    fresh = new.filter(pc.invert(pc.is_in(new["kafka_offset"], existing["kafka_offset"])))
    if fresh.num_rows:
        merged = pa.concat_tables([existing, fresh])
        if not ascending(merged["kafka_offset"]):  # a first landing reads in offset order: no sort
            merged = merged.sort_by("kafka_offset")
        lake.write_file("raw", table, day, name, new.schema, merged.to_batches())
    return fresh.num_rows


def ascending(values: pa.ChunkedArray) -> bool:
    """Strictly increasing, checked column-wise (a sort rewrites every column)."""
    n = len(values)
    return n < 2 or pc.all(pc.less(values.slice(0, n - 1), values.slice(1))).as_py()


def dead_letter_once(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    day: date,
    name: str,
    rejects: pa.Table,
    records: dict[int, tuple[Record, str]],
) -> int:
    """Record `rejects` (offset -> (record, reason) in `records`) and dead-letter each one that
    was never dead-lettered; returns how many were published. Call under `locked`."""
    existing = read_block(lake, table, day, name, rejects.schema)
    fresh = rejects.filter(pc.invert(pc.is_in(rejects["kafka_offset"], existing["kafka_offset"])))
    table_ = pa.concat_tables([existing, fresh]).sort_by("kafka_offset")
    pending = table_.filter(pc.invert(table_["dead_lettered"]))
    if not pending.num_rows:
        return 0
    if fresh.num_rows:  # recorded as pending before anything is published
        lake.write_file("raw", table, day, name, table_.schema, table_.to_batches())
    topic, partition = next(iter(records.values()))[0].topic, next(iter(records.values()))[0].partition
    offsets = set(pending["kafka_offset"].to_pylist())
    crashed = offsets - set(fresh["kafka_offset"].to_pylist())
    already = {o for p, o in in_dlq(kafka, topic) if p == partition} if crashed else set()
    done = offsets & already
    for offset in sorted(offsets - already):
        if offset in records:  # else its own range's run publishes it
            record, reason = records[offset]
            kafka.dead_letter(record, reason)
            done.add(offset)
    flags = [
        d or o in done
        for o, d in zip(table_["kafka_offset"].to_pylist(), table_["dead_lettered"].to_pylist(), strict=False)
    ]
    table_ = table_.set_column(table_.schema.get_field_index("dead_lettered"), "dead_lettered", pa.array(flags))
    lake.write_file("raw", table, day, name, table_.schema, table_.to_batches())
    return len(done - already)


def in_dlq(kafka: TopicLog, topic: str) -> set[tuple[int, int]]:
    """(partition, offset) of the messages of `topic` the DLQ already holds. Read only after a
    crash left pending rejects, so its cost is paid rarely."""
    dlq = f"{topic}.dlq"
    starts = kafka.offsets_for_time(dlq, 0)  # the first offset retention kept
    found = set()
    for partition, end in kafka.end_offsets(dlq).items():
        start = starts.get(partition, end)
        for record in kafka.read_range(OffsetRange(dlq, partition, start, end)) if start < end else ():
            h = record.headers
            if h.get("original_topic") == topic and "original_offset" in h:
                found.add((int(h["original_partition"]), int(h["original_offset"])))
    return found


# Files of this layout; anything else in a raw day is from the layout before it (files named
# by range, `part-0`): the one-time migration (orchestration/migrate_raw_layout.py) folds them in.
_CURRENT = re.compile(r".+-p\d+-b\d{7}\.parquet|.+-empty\.parquet")


class LegacyLayout(Exception):
    """A raw day still holds files of the layout before offset blocks."""


def legacy_files(lake: Lake, table: str, day: date) -> list[Path]:
    """The day's files of the earlier layout (names only: no file is read)."""
    return [
        Path(f) for f in parquet_files(lake.partition_dir("raw", table, day)) if not _CURRENT.fullmatch(Path(f).name)
    ]


def refuse_legacy(lake: Lake, table: str, day: date) -> None:
    """Landing merges into blocks only: a day of the earlier layout is migrated once, first."""
    if old := legacy_files(lake, table, day):
        raise LegacyLayout(
            f"raw/{table}/day={day} holds {len(old)} file(s) of the layout before offset blocks"
            f" ({old[0].name}, ...): run `python -m orchestration.migrate_raw_layout` once, with no run in flight"
        )


def folded_blocks(files: list[Path], schema: pa.Schema) -> dict[str, pa.Table]:
    """A raw day's files of both layouts as this layout's blocks: block name -> rows, each
    offset once (a block's own row first, so a reject keeps its dead-letter flag), by offset.
    Rejects of the earlier layout were dead-lettered before they were written."""
    parts: dict[str, list[pa.Table]] = {}
    for path in sorted(files, key=lambda f: not _CURRENT.fullmatch(f.name)):  # blocks first
        old = pq.read_table(path)
        if "dead_lettered" in schema.names and "dead_lettered" not in old.column_names:
            old = old.append_column("dead_lettered", pa.array([True] * old.num_rows))
        old = old.select(schema.names).cast(schema)
        blocks = pc.divide(old["kafka_offset"], BLOCK)
        for topic, partition, block in sorted(
            set(
                zip(old["kafka_topic"].to_pylist(), old["kafka_partition"].to_pylist(), blocks.to_pylist(), strict=True)
            )
        ):
            mask = pc.and_(pc.equal(old["kafka_topic"], topic), pc.equal(old["kafka_partition"], partition))
            parts.setdefault(block_name(topic, partition, block), []).append(
                old.filter(pc.and_(mask, pc.equal(blocks, block)))
            )
    folded = {}
    for name, tables in parts.items():
        rows = pa.concat_tables(tables)
        rows = rows.append_column("__row", pa.array(range(rows.num_rows), pa.int64()))
        first = rows.group_by("kafka_offset").aggregate([("__row", "min")])["__row_min"]
        folded[name] = rows.take(first).drop_columns(["__row"]).sort_by("kafka_offset")
    return folded
