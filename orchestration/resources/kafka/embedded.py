"""`TopicLog` in one SQLite file: the local profile's stand-in for a Kafka cluster.

Same semantics as `KafkaResource`: keyed partitions (CRC-32, as librdkafka), offsets per partition
from 0, event-time timestamps, headers, per-group commits and a DLQ per topic. The sensor daemon
and run workers are separate processes, so every write is one `BEGIN IMMEDIATE` transaction (the
write lock is taken before the next offset is read: two producers never hand out the same one) on
a WAL database with a busy timeout. No retention: local data is deleted with DATA_DIR.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

import dagster as dg
from pydantic import Field

from assets.core.codec import decode, dlq_headers, prepare
from assets.core.contracts import contract_for
from assets.core.stream import OffsetRange, ProduceResult, Record, TopicMessage, dlq_topic
from orchestration.resources.kafka.log import partition_for
from orchestration.resources.sqlite_store import open_store

_SCHEMA = """
create table if not exists partitions (
    topic text not null, partition integer not null, next_offset integer not null,
    primary key (topic, partition));
create table if not exists records (
    topic text not null, partition integer not null, offset integer not null, key text, value blob,
    headers text not null, timestamp_ms integer not null,
    primary key (topic, partition, offset)) without rowid;
create table if not exists commits (
    grp text not null, topic text not null, partition integer not null, next_offset integer not null,
    primary key (grp, topic, partition));
"""
# Messages are prepared (validated, serialized) outside the write lock, then written in chunks,
# so a slow message generator never blocks the other processes' writers.
_CHUNK = 500


class EmbeddedTopicLogResource(dg.ConfigurableResource):
    """Topics in a local SQLite file, safe for concurrent producers and consumers across processes."""

    path: str = Field(description="SQLite file, e.g. DATA_DIR/topics.sqlite.")
    partitions: int = 3
    busy_timeout_seconds: float = 30.0

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = open_store(self.path, _SCHEMA, self.busy_timeout_seconds, isolation_level=None)
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
                conn.executemany("insert into partitions values (?, ?, 0)", rows)

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
        count = conn.execute("select count(*) from partitions where topic = ?", (topic,)).fetchone()[0]
        partition = partition_for(key or "", count) if partition is None else partition % count
        (offset,) = conn.execute(
            "update partitions set next_offset = next_offset + 1 where topic = ? and partition = ?"
            " returning next_offset - 1",
            (topic, partition),
        ).fetchone()
        conn.execute(
            "insert into records values (?, ?, ?, ?, ?, ?, ?)",
            (topic, partition, offset, key, value, json.dumps(headers, ensure_ascii=False), timestamp_ms),
        )
        return partition, offset

    def ensure_topic(self, topic: str) -> None:
        with self._write() as conn:
            self._ensure(conn, topic)

    def produce(self, topic: str, messages: Iterable[TopicMessage], source: str) -> ProduceResult:
        produced = dead = 0
        offsets: dict[int, tuple[int, int]] = {}
        iterator = iter(messages)
        while chunk := [prepare(topic, m, source) for m in islice(iterator, _CHUNK)]:
            with self._write() as conn:
                self._ensure(conn, topic)
                for p in chunk:
                    partition, offset = self._append(conn, p.topic, p.key, p.payload, p.headers, p.timestamp_ms)
                    if p.reason is not None:
                        dead += 1
                        continue
                    produced += 1
                    first, _ = offsets.get(partition, (offset, offset))
                    offsets[partition] = (first, offset)
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

    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]:
        with self._connect() as conn:
            rows = conn.execute(
                "select p.partition, coalesce(min(r.offset), p.next_offset) from partitions p"
                " left join records r on r.topic = p.topic and r.partition = p.partition"
                " and r.timestamp_ms >= ? where p.topic = ? group by p.partition",
                (ts_ms, topic),
            )
            return dict(rows.fetchall())

    def decode(self, record: Record) -> tuple[dict | None, str | None]:
        """Parse and validate a consumed record against its topic's contract."""
        return decode(record, contract_for(record.topic))

    def read_range(self, r: OffsetRange) -> list[Record]:
        with self._connect() as conn:
            rows = conn.execute(
                "select offset, key, value, headers, timestamp_ms from records"
                " where topic = ? and partition = ? and offset >= ? and offset < ? order by offset",
                (r.topic, r.partition, r.start, r.end),
            ).fetchall()
        if len(rows) != max(r.end - r.start, 0):
            raise ValueError(f"{r.run_key()}: only {len(rows)} records exist in that range")
        return [
            Record(r.topic, r.partition, offset, key, value, json.loads(headers), ts)
            for offset, key, value, headers, ts in rows
        ]

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
