"""The landing consumer group's committed offsets: advanced through what the raw zone holds.

The raw zone is the ledger: a message is consumed once its offset is a row of its day's landed
file, or of its rejects file with its DLQ publish done. The group's offset of a partition moves
from where it is, message by message, and stops at the first one the raw zone does not hold (a
failed landing, a day not landed yet), so it never passes a gap. A message of a day that is not
a partition yet is held by the raw zone's holding area (assets/landing/held.py), so it is committed past.

Who advances it, and when: the last step of every run that lands (`kafka/<topic>_committed`,
after every asset fed by the landing succeeded: CLI, schedule, backfill and sensor runs), and
the `kafka_offset_committer` sensor after every successful run (for runs that selected the
landing alone). Both apply this one rule, so any order of runs gives the same offsets.
"""

import dagster as dg
import pyarrow as pa

from assets.core.days import record_day
from assets.core.stream import OffsetRange, TopicLog
from assets.landing.decode import LANDED, REJECTED
from assets.landing.held import held_table
from assets.landing.ranges import BLOCK, block_name
from assets.landing.write import read_block
from assets.log_history import refuse_committed_beyond_end, refuse_other_block
from assets.partitions import daily_partitions, single_run
from assets.ports import Lake
from assets.topics import LANDING_GROUP, topic_key

# Messages read by the scan's first step: a gap near the committed offset costs one small read.
# Each further step reads twice as many, up to MAX_STEP: a whole day is read in large ranges
# (with 1,000 a step, a ten-million-message day decoded each stored batch of the log ~3 times).
STEP, MAX_STEP = 1_000, 100_000


def held_offsets(
    lake: Lake, table: str, topic: str, partition: int, day, block: int, topic_id: str | None = None
) -> set[int]:
    name = block_name(topic, partition, block)
    # Offsets of a block landed from another history of the topic are not this log's messages:
    # counting them as held would commit messages nobody landed, so the commit refuses instead.
    here = OffsetRange(topic, partition, block * BLOCK, (block + 1) * BLOCK)
    refuse_other_block(lake, table, day, name, here, topic_id)
    refuse_other_block(lake, f"{table}_rejected", day, name, here, topic_id)
    refuse_other_block(lake, held_table(table), day, name, here, topic_id)
    offset_only = pa.schema([LANDED.field("kafka_offset")])
    landed = read_block(lake, table, day, name, offset_only)
    # A message of a day that is not a partition yet is held by the raw zone too (assets/landing/held.py).
    held = read_block(lake, held_table(table), day, name, offset_only)
    rejects = read_block(
        lake,
        f"{table}_rejected",
        day,
        name,
        pa.schema([REJECTED.field("kafka_offset"), REJECTED.field("dead_lettered")]),
    )
    done = rejects.filter(rejects["dead_lettered"])["kafka_offset"]
    return set(landed["kafka_offset"].to_pylist()) | set(held["kafka_offset"].to_pylist()) | set(done.to_pylist())


def landed_through(
    kafka: TopicLog,
    lake: Lake,
    table: str,
    topic: str,
    partition: int,
    start: int,
    end: int,
    topic_id: str | None = None,
) -> int:
    """The first offset in [start, end) whose message the raw zone does not hold, else `end`."""
    held: dict[tuple, set[int]] = {}
    offset, size = start, STEP
    while offset < end:
        step = OffsetRange(topic, partition, offset, min(offset + size, end))
        for record in kafka.read_range(step):
            key = (record_day(record), record.offset // BLOCK)
            if key not in held:
                held[key] = held_offsets(lake, table, topic, partition, *key, topic_id)
            if record.offset not in held[key]:
                return record.offset
        offset, size = step.end, min(size * 2, MAX_STEP)
    return end


def commit_landed(kafka: TopicLog, lake: Lake, table: str, topic: str, log=None) -> dict[int, int]:
    """Advance the group's offset of every partition of `topic`; returns the committed offsets."""
    ends = kafka.end_offsets(topic)
    refuse_committed_beyond_end(kafka, LANDING_GROUP, topic, ends)
    topic_id = kafka.topic_id(topic)
    committed = kafka.committed(LANDING_GROUP, topic)
    behind = {p: end for p, end in ends.items() if committed.get(p, 0) < end}
    # Where each partition still starts: offsets below it were deleted by retention unread,
    # so nothing can land them; the scan starts there (and says so) rather than failing forever.
    firsts = kafka.offsets_for_time(topic, 0) if behind else {}
    for partition, end in sorted(behind.items()):
        start = max(committed.get(partition, 0), firsts.get(partition, 0))
        if start > committed.get(partition, 0) and log is not None:
            log.warning(
                f"{topic}/{partition}: offsets {committed.get(partition, 0)}-{start} expired before they landed"
            )
        through = landed_through(kafka, lake, table, topic, partition, start, end, topic_id)
        if through > committed.get(partition, 0):
            kafka.commit(LANDING_GROUP, OffsetRange(topic, partition, start, through))
            committed[partition] = through
    return committed


def committed_asset(topic: str, table: str, group: str, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """`kafka/<topic>_committed`: the run's last step for the topic, after `deps` (every asset
    the landing feeds) have succeeded."""

    @dg.asset(
        key=[*topic_key(topic).path[:-1], f"{topic_key(topic).path[-1]}_committed"],
        deps=deps,
        description=f"The consumer group `{LANDING_GROUP}` on `{topic}`, committed through what the raw zone holds.",
        group_name=group,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"kafka"},
    )
    def _commit(
        context: dg.AssetExecutionContext, kafka: dg.ResourceParam[TopicLog], lake: dg.ResourceParam[Lake]
    ) -> dg.MaterializeResult:
        committed = commit_landed(kafka, lake, table, topic, context.log)
        ends = kafka.end_offsets(topic)
        lag = sum(end - committed.get(p, 0) for p, end in ends.items())
        return dg.MaterializeResult(
            metadata={
                "committed_offsets": {str(p): o for p, o in sorted(committed.items())},
                "end_offsets": {str(p): o for p, o in sorted(ends.items())},
                "consumer_lag": lag,
            }
        )

    return _commit
