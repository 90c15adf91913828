"""`TopicLog` in one SQLite file: the local profile's stand-in for a Kafka cluster.

Same semantics as `KafkaResource`: keyed partitions (CRC-32, as librdkafka), offsets per partition
from 0, event-time timestamps, headers, per-group commits and a DLQ per topic. The sensor daemon
and run workers are separate processes, so every write is one `BEGIN IMMEDIATE` transaction (the
write lock is taken before the next offset is read: two producers never hand out the same one) on
a WAL database with a busy timeout. Messages are stored many to a row (kafka/batches.py), as a
Kafka segment stores record batches. No retention: local data is deleted with DATA_DIR, and
`delete_records` trims a partition's start as Kafka's API of that name does.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice, repeat

import dagster as dg
from pydantic import Field

from assets.core.codec import decode, dlq_headers, prepare
from assets.core.contracts import contract_for
from assets.core.memory import gc_paused
from assets.core.stream import OffsetRange, ProduceResult, Record, TopicMessage, dlq_topic
from orchestration.resources.kafka import batches
from orchestration.resources.kafka.log import partition_for
from orchestration.resources.sqlite_store import open_store

# Layout 2: batches of messages (layout 1 held one row per message).
_LAYOUT = 2
_SCHEMA = """
create table if not exists partitions (
    topic text not null, partition integer not null, next_offset integer not null,
    log_start integer not null default 0,
    primary key (topic, partition));
create table if not exists batches (
    topic text not null, partition integer not null, base_offset integer not null,
    last_offset integer not null, max_timestamp_ms integer not null, messages blob not null,
    primary key (topic, partition, base_offset));
create table if not exists topic_ids (topic text primary key, topic_id text not null);
create table if not exists commits (
    grp text not null, topic text not null, partition integer not null, next_offset integer not null,
    primary key (grp, topic, partition));
"""
# Messages are prepared (validated, serialized) outside the write lock, then written in chunks,
# so a slow message generator never blocks the other processes' writers; a chunk is one
# transaction and one batch row per partition it touches.
_CHUNK = 10_000


class EmbeddedTopicLogResource(dg.ConfigurableResource):
    """Topics in a local SQLite file, safe for concurrent producers and consumers across processes."""

    path: str = Field(description="SQLite file, e.g. DATA_DIR/topics.sqlite.")
    partitions: int = 3
    busy_timeout_seconds: float = 30.0

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = open_store(self.path, _SCHEMA, self.busy_timeout_seconds, isolation_level=None, layout=_LAYOUT)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("begin immediate")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    def _ensure(self, conn: sqlite3.Connection, topic: str) -> None:
        # An existing topic keeps its partition count, as on Kafka: more would move keys.
        for name in (topic, dlq_topic(topic)):
            if conn.execute("select 1 from partitions where topic = ?", (name,)).fetchone() is None:
                rows = [(name, p) for p in range(self.partitions)]
                conn.executemany("insert into partitions (topic, partition, next_offset) values (?, ?, 0)", rows)
            self._ensure_id(conn, name)

    @staticmethod
    def _ensure_id(conn: sqlite3.Connection, topic: str) -> None:
        # Drawn with the topic, as Kafka does: a new file (the old one lost) gives every topic a
        # new id, so a landing can tell the offsets it hands out from the lost file's. The table
        # is created here too because files made before it keep their layout number.
        conn.execute("create table if not exists topic_ids (topic text primary key, topic_id text not null)")
        conn.execute("insert or ignore into topic_ids values (?, ?)", (topic, uuid.uuid4().hex))

    @staticmethod
    def _partition_count(conn: sqlite3.Connection, topic: str) -> int:
        return conn.execute("select count(*) from partitions where topic = ?", (topic,)).fetchone()[0]

    @staticmethod
    def _append_batch(conn: sqlite3.Connection, topic: str, partition: int, batch: batches.Batch) -> int:
        """Write `batch` to one partition in an open write transaction; its first offset."""
        (first,) = conn.execute(
            "update partitions set next_offset = next_offset + ? where topic = ? and partition = ?"
            " returning next_offset - ?",
            (len(batch), topic, partition, len(batch)),
        ).fetchone()
        conn.execute(
            "insert into batches values (?, ?, ?, ?, ?, ?)",
            (topic, partition, first, first + len(batch) - 1, max(batch.timestamps), batch.encode()),
        )
        return first

    def _append(
        self,
        conn: sqlite3.Connection,
        topic: str,
        key: str | None,
        value: bytes | None,
        headers: dict[str, str],
        timestamp_ms: int,
        partition: int | None = None,
    ) -> tuple[int, int]:
        """Write one record in an open write transaction; (partition, offset)."""
        count = self._partition_count(conn, topic)
        partition = partition_for(key or "", count) if partition is None else partition % count
        batch = batches.Batch()
        batch.add(key, value, headers, timestamp_ms)
        return partition, self._append_batch(conn, topic, partition, batch)

    def ensure_topic(self, topic: str) -> None:
        with self._write() as conn:
            self._ensure(conn, topic)

    def produce(self, topic: str, messages: Iterable[TopicMessage], source: str) -> ProduceResult:
        produced = dead = 0
        offsets: dict[int, tuple[int, int]] = {}
        partition_of: dict[tuple[str, str], int] = {}  # keys repeat (a sensor, a user): hash each once
        iterator = iter(messages)
        counts: dict[str, int] = {}
        while True:
            # A chunk of parsed messages is held at once (see assets/core/memory.py). The collector
            # stays off until the chunk is written and freed: back on while its messages lived,
            # it would traverse and promote them all.
            with gc_paused():
                chunk = [prepare(topic, m, source) for m in islice(iterator, _CHUNK)]
                if not chunk:
                    break
                with self._write() as conn:
                    if not counts:
                        self._ensure(conn, topic)
                        counts = {name: self._partition_count(conn, name) for name in (topic, dlq_topic(topic))}
                    pending: dict[tuple[str, int], batches.Batch] = {}
                    for p in chunk:
                        partition = partition_of.get((p.topic, p.key))
                        if partition is None:
                            partition = partition_of[p.topic, p.key] = partition_for(p.key or "", counts[p.topic])
                        pending.setdefault((p.topic, partition), batches.Batch()).add(
                            p.key, p.payload, p.headers, p.timestamp_ms
                        )
                    for (name, partition), batch in pending.items():
                        first = self._append_batch(conn, name, partition, batch)
                        if name != topic:
                            dead += len(batch)
                            continue
                        produced += len(batch)
                        offsets[partition] = (offsets.get(partition, (first,))[0], first + len(batch) - 1)
                del chunk, pending
        return ProduceResult(produced=produced, dead_lettered=dead, offsets=offsets)

    def dead_letter(self, record: Record, reason: str) -> None:
        with self._write() as conn:
            self._ensure(conn, record.topic)
            # A keyless record stays in its original partition number rather than partition 0.
            partition = None if record.key is not None else record.partition
            self._append(
                conn,
                dlq_topic(record.topic),
                record.key,
                record.value,
                dlq_headers(record, reason),
                record.timestamp_ms,
                partition,
            )

    def end_offsets(self, topic: str) -> dict[int, int]:
        with self._connect() as conn:
            rows = conn.execute("select partition, next_offset from partitions where topic = ?", (topic,))
            return dict(rows.fetchall())

    def topic_id(self, topic: str) -> str | None:
        with self._connect() as conn:
            found = conn.execute(
                "select topic_id from topic_ids where topic = ? and exists (select 1 from partitions where topic = ?)",
                (topic, topic),
            ).fetchone()
        if found is not None:
            return found[0]
        with self._write() as conn:
            if conn.execute("select 1 from partitions where topic = ?", (topic,)).fetchone() is None:
                return None
            self._ensure_id(conn, topic)  # a topic of a file older than its ids gets one now
            return conn.execute("select topic_id from topic_ids where topic = ?", (topic,)).fetchone()[0]

    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]:
        """Per partition, the first offset stamped at or after `ts_ms`, else the end. Event
        times are not ordered, so the first batch whose newest message qualifies holds it."""
        found = {}
        with self._connect() as conn:
            partitions = conn.execute(
                "select partition, next_offset, log_start from partitions where topic = ?", (topic,)
            ).fetchall()
            for partition, end, log_start in partitions:
                found[partition] = end
                candidates = conn.execute(
                    "select base_offset, messages from batches where topic = ? and partition = ?"
                    " and last_offset >= ? and max_timestamp_ms >= ? order by base_offset",
                    (topic, partition, log_start, ts_ms),
                )
                for base, blob in candidates:
                    position = batches.first_at_or_after(batches.timestamps(blob), ts_ms, skip=log_start - base)
                    if position is not None:
                        found[partition] = base + position
                        break
        return found

    def decode(self, record: Record) -> tuple[dict | None, str | None]:
        """Parse and validate a consumed record against its topic's contract."""
        return decode(record, contract_for(record.topic))

    def read_range(self, r: OffsetRange) -> list[Record]:
        records: list[Record] = []
        with self._connect() as conn:
            start = conn.execute(
                "select log_start from partitions where topic = ? and partition = ?", (r.topic, r.partition)
            ).fetchone()
            rows = conn.execute(
                "select base_offset, messages, last_offset from batches where topic = ? and partition = ?"
                " and base_offset < ? and last_offset >= ? order by base_offset",
                (r.topic, r.partition, r.end, max(r.start, start[0] if start else 0)),
            ).fetchall()
        lower = max(r.start, start[0] if start else 0)
        for base, blob, last_offset in rows:
            first, last = max(lower - base, 0), min(r.end, last_offset + 1) - base
            keys, values, headers, stamps = batches.decode(blob, first, last)
            topic, partition = repeat(r.topic), repeat(r.partition)
            offsets = range(base + first, base + last)
            records.extend(map(Record, topic, partition, offsets, keys, values, headers, stamps))
        if len(records) != max(r.end - r.start, 0):
            raise ValueError(f"{r.run_key()}: only {len(records)} records exist in that range")
        return records

    def delete_records(self, topic: str, before: int | None = None) -> None:
        """Drop every partition's messages below offset `before` (all of them when None), as
        retention would: offsets are never reused, the partition's start moves up."""
        with self._write() as conn:
            conn.execute(
                "update partitions set log_start = max(log_start, min(next_offset, coalesce(?, next_offset)))"
                " where topic = ?",
                (before, topic),
            )
            conn.execute(
                "delete from batches where topic = ? and last_offset < (select log_start from partitions p"
                " where p.topic = batches.topic and p.partition = batches.partition)",
                (topic,),
            )

    def commit(self, group: str, r: OffsetRange) -> None:
        with self._write() as conn:
            conn.execute(
                "insert into commits values (?, ?, ?, ?) on conflict (grp, topic, partition)"
                " do update set next_offset = excluded.next_offset",
                (group, r.topic, r.partition, r.end),
            )

    def committed(self, group: str, topic: str) -> dict[int, int]:
        with self._connect() as conn:
            rows = conn.execute(
                "select p.partition, coalesce(c.next_offset, 0) from partitions p left join commits c"
                " on c.grp = ? and c.topic = p.topic and c.partition = p.partition where p.topic = ?",
                (group, topic),
            )
            return dict(rows.fetchall())

    def topic_size(self, topic: str) -> int:
        return sum(self.end_offsets(topic).values())
