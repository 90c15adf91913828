"""A topic log that lost its history is never taken for the old one.

An offset names a message only within one history of its topic: a Kafka topic deleted and
recreated, or a local `topics.sqlite` lost and started anew, hands out offsets 0, 1, ... again,
to other messages. The raw zone is keyed by (topic, partition, offset), so a landing that took
the new history for the old one would find the offsets already held, count the new messages as
landed (`added 0`) and commit them: lost without a word.

So every raw block records, in its Parquet metadata, the topic id it was landed from (the log's
incarnation: Kafka's topic id, or the id the embedded log draws when it creates the topic).
Landing and the committer refuse a block of another incarnation, and a consumer group's
committed offset beyond a partition's end (how a recreated topic shows on Kafka), with an error
naming the topic, partition, offsets and the recovery. Refusing, not re-keying: the raw rows,
the loss accounting and the clean step all identify a message by (partition, offset), and a
second history under the same names would make every one of them ambiguous.
"""

from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from assets.core.stream import OffsetRange, TopicLog
from assets.ports import Lake

TOPIC_ID_KEY = b"kafka_topic_id"
RECOVERY = (
    "Recovery (docs/operating.md, 'A topic log that lost its history'): put the log back (the"
    " moved DATA_DIR/topics.sqlite with its -wal file; on Kafka, the topic's data) and re-run;"
    " if it is gone for good, move the refused raw days aside (raw/<table>/day=D and"
    " raw/<table>_rejected/day=D), reset the group to the earliest offset and re-run the days."
)


class LogHistoryLost(Exception):
    """The topic log is not the history the raw zone (or the consumer group) was landed from."""


def stamped(rows: pa.Table, topic_id: str | None) -> pa.Table:
    """`rows` whose schema carries the topic id they are landed from (unchanged when the log has
    none): the block file written from them records it, in the same atomic write as the rows."""
    return rows if topic_id is None else rows.replace_schema_metadata({TOPIC_ID_KEY: topic_id.encode()})


def block_topic_id(lake: Lake, table: str, day: date, name: str) -> str | None:
    """The topic id a raw block was landed from; None for no block, or one landed before ids."""
    path = lake.partition_dir("raw", table, day) / f"{name}.parquet"
    if not path.exists():
        return None
    found = (pq.read_schema(path).metadata or {}).get(TOPIC_ID_KEY)
    return None if found is None else found.decode()


def refuse_other_block(lake: Lake, table: str, day: date, name: str, r: OffsetRange, topic_id: str | None) -> None:
    """Raise when block `name` of `day` was landed from another incarnation of `r`'s topic.
    A block landed before ids were recorded cannot tell, and adopts the current one."""
    landed = block_topic_id(lake, table, day, name)
    if topic_id is None or landed is None or landed == topic_id:
        return
    raise LogHistoryLost(
        f"{r.topic} partition {r.partition}: raw/{table}/day={day} block {name} was landed from topic id"
        f" {landed}, but the log now is topic id {topic_id} (a recreated topic, or a lost topics.sqlite): its"
        f" offsets {r.start}-{r.end - 1} are other messages than the landed ones, so nothing is taken as landed."
        f" {RECOVERY}"
    )


def refuse_committed_beyond_end(kafka: TopicLog, group: str, topic: str, ends: dict[int, int] | None = None) -> None:
    """Raise when `group` committed a partition of `topic` beyond the log's end: offsets never
    go back, so the log was recreated, and its next messages would reuse committed offsets."""
    ends = kafka.end_offsets(topic) if ends is None else ends
    committed = kafka.committed(group, topic)
    beyond = {p: (c, ends[p]) for p, c in sorted(committed.items()) if p in ends and c > ends[p]}
    if beyond:
        detail = ", ".join(f"partition {p}: committed offset {c}, log end {e}" for p, (c, e) in beyond.items())
        raise LogHistoryLost(
            f"{topic}: the consumer group {group!r} committed beyond the log's end ({detail}): the topic was"
            f" recreated, and its offsets name other messages than the committed ones. {RECOVERY}"
        )


def blocks_of(ranges: Iterable[OffsetRange], block: int, name_of) -> list[tuple[OffsetRange, str]]:
    """(range, block name) for every block the ranges touch."""
    seen = {}
    for r in ranges:
        for b in range(r.start // block, (max(r.end, r.start + 1) - 1) // block + 1):
            seen.setdefault(name_of(r.topic, r.partition, b), r)
    return [(r, name) for name, r in seen.items()]
