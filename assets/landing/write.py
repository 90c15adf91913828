"""Raw rows written into the day's offset blocks, each through the lake's versioned swap.

A block is merged, not replaced: under the lake's lock for the day (LakeResource.edit_partition),
landing reads the block and adds only the offsets it does not hold yet, and the block with them
is swapped in as a new version of the day. Concurrent runs (the sensor requests many at once)
queue on that lock, so one merge never drops another's rows, and any mix of whole-day runs,
sensor ranges of any size, retries and replays gives each offset one row.

The day's rejects file of the same block is the record of what was dead-lettered: a poison
message is written there as pending before it is published to the DLQ and marked done after.
A crash between the two leaves it pending; the next landing looks for it in the DLQ (by its
original_* headers) and publishes only what is not there, so each one reaches the DLQ once.
"""

from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.core.stream import OffsetRange, Record, TopicLog
from assets.landing.decode import rejected_table
from assets.log_history import refuse_other_block, stamped
from assets.ports import Lake, PartitionEdit


def read_file(path: Path, schema: pa.Schema) -> pa.Table:
    if not path.exists():
        return schema.empty_table()
    return pq.read_table(path, columns=schema.names, schema=schema)


def read_block(lake: Lake, table: str, day: date, name: str, schema: pa.Schema) -> pa.Table:
    return read_file(lake.partition_dir("raw", table, day) / f"{name}.parquet", schema)


def merge_new(edit: PartitionEdit, name: str, new: pa.Table) -> int:
    """Add the rows of `new` whose offsets block `name` of the edited day does not hold; returns
    rows added."""
    existing = read_file(edit.directory / f"{name}.parquet", new.schema)
    fresh = new.filter(pc.invert(pc.is_in(new["kafka_offset"], existing["kafka_offset"])))
    if fresh.num_rows:
        merged = pa.concat_tables([existing, fresh])
        if not ascending(merged["kafka_offset"]):  # a first landing reads in offset order: no sort
            merged = merged.sort_by("kafka_offset")
        edit.write_file(name, new.schema, merged.to_batches())
    return fresh.num_rows


def ascending(values: pa.ChunkedArray) -> bool:
    """Strictly increasing, checked column-wise (a sort rewrites every column)."""
    n = len(values)
    return n < 2 or pc.all(pc.less(values.slice(0, n - 1), values.slice(1))).as_py()


def write_rows(
    lake: Lake, table: str, day: date, name: str, r: OffsetRange, rows: pa.Table, topic_id: str | None
) -> int:
    """Merge the day's raw `rows` of range `r` into block `name`, stamped with the log's
    `topic_id`; returns rows added."""
    if not rows.num_rows:
        return 0
    with lake.edit_partition("raw", table, day) as edit:
        # Checked again under the lock: another history's run may have written it meanwhile.
        refuse_other_block(lake, table, day, name, r, topic_id)
        return merge_new(edit, name, stamped(rows, topic_id))


def dead_letter(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    day: date,
    name: str,
    r: OffsetRange,
    bad: list[tuple[Record, str]],
    topic_id: str | None,
    counts: Counter,
) -> None:
    """Record the rejects `bad` of range `r` in the day's rejects block and dead-letter each one
    once; counts what this call published."""
    if not bad:
        return
    rejects = f"{table}_rejected"
    with lake.edit_partition("raw", rejects, day) as edit:
        refuse_other_block(lake, rejects, day, name, r, topic_id)
        counts["dead_lettered"] += dead_letter_once(
            kafka, edit, name, stamped(rejected_table(bad), topic_id), {r.offset: (r, why) for r, why in bad}
        )


def dead_letter_once(
    kafka: TopicLog,
    edit: PartitionEdit,
    name: str,
    rejects: pa.Table,
    records: dict[int, tuple[Record, str]],
) -> int:
    """Record `rejects` (offset -> (record, reason) in `records`) and dead-letter each one that
    was never dead-lettered; returns how many were published. Both writes are swaps of the
    edited day: the pending record is in place before anything is published."""
    existing = read_file(edit.directory / f"{name}.parquet", rejects.schema)
    fresh = rejects.filter(pc.invert(pc.is_in(rejects["kafka_offset"], existing["kafka_offset"])))
    table_ = pa.concat_tables([existing, fresh]).sort_by("kafka_offset")
    pending = table_.filter(pc.invert(table_["dead_lettered"]))
    if not pending.num_rows:
        return 0
    if fresh.num_rows:  # recorded as pending before anything is published
        edit.write_file(name, table_.schema, table_.to_batches())
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
    edit.write_file(name, table_.schema, table_.to_batches())
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
