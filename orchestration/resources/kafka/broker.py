"""`TopicLog` on a Kafka-protocol broker (Kafka, Redpanda, Tansu) through confluent-kafka.

Every call is bounded in time, so a sensor tick or a run never hangs on a broker that is down;
each makes its own short-lived consumer (only the producer is kept). Reads use assign + seek only:
no consumer-group join, no rebalance. Watermarks and time lookups that the broker reports are
verified by reading, because Tansu (the stand-in broker of the dev machines) reports them wrong.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache

import dagster as dg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import Field, PrivateAttr

from assets.core.codec import decode, dlq_headers, prepare
from assets.core.contracts import contract_for
from assets.core.stream import OffsetRange, ProduceResult, Record, TopicMessage, dlq_topic
from orchestration.resources.kafka.log import KafkaUnavailable
from orchestration.resources.kafka.registry import decode_registered

_LOG = logging.getLogger(__name__)
# librdkafka reports these through error_cb long before a request timeout: fail fast on them.
_DOWN = {KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION, KafkaError._RESOLVE}


@cache
def registry_client(url: str):
    # One client per URL and process: it caches schema ids, and a mock:// client keeps its whole
    # store in the instance, so a reader in the same process must get this very object back.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient.new_client({"url": url})


class KafkaResource(dg.ConfigurableResource):
    """Topics on a Kafka cluster: idempotent keyed producer, bounded reads by offset range."""

    bootstrap_servers: str
    security_protocol: str | None = Field(default=None, description='e.g. "SASL_SSL".')
    sasl_mechanism: str | None = Field(default=None, description='e.g. "PLAIN", "SCRAM-SHA-512".')
    sasl_username: str | None = Field(default=None, description='Pass dg.EnvVar("KAFKA_USERNAME").')
    sasl_password: str | None = Field(
        default=None, repr=False, description='Pass dg.EnvVar("KAFKA_PASSWORD"); never logged.'
    )
    partitions: int = 3
    replication_factor: int = 1
    retention_ms: int = 7 * 24 * 3600 * 1000
    timeout_seconds: float = 10.0
    schema_registry_url: str | None = Field(default=None, description="Confluent Schema Registry.")
    _cached_producer: tuple | None = PrivateAttr(default=None)

    def _conf(self, errors: list, **extra) -> dict:
        ms = int(self.timeout_seconds * 1000)
        # librdkafka logs through Python logging (Dagster captures it), not straight to stderr.
        conf = {
            "bootstrap.servers": self.bootstrap_servers,
            "socket.timeout.ms": ms,
            "socket.connection.setup.timeout.ms": ms,
            "error_cb": errors.append,
            "logger": _LOG,
        }
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
        }
        conf |= {key: value for key, value in optional.items() if value}
        return conf | extra

    @contextmanager
    def _consumer(self, group: str = "airstream-reader", **extra) -> Iterator[tuple[Consumer, list]]:
        errors: list = []
        # Tansu holds a group join for half of session.timeout.ms; we never join, but keep it short.
        consumer = Consumer(
            self._conf(
                errors,
                **{
                    "group.id": group,
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "session.timeout.ms": 6000,
                    "fetch.wait.max.ms": 100,
                    "auto.offset.reset": "error",
                }
                | extra,
            )
        )
        try:
            yield consumer, errors
        finally:
            consumer.close()

    def _metadata(self, client, errors: list, topic: str | None = None):
        """Cluster metadata; KafkaUnavailable within about a second when no broker answers."""
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            try:
                return client.list_topics(topic, timeout=min(0.5, max(deadline - time.monotonic(), 0.01)))
            except KafkaException as exc:
                client.poll(0)  # serves error_cb
                down = [e for e in errors if e.code() in _DOWN]
                if down or time.monotonic() >= deadline:
                    # The verdict first (all brokers down, or a timeout), then the last error's detail.
                    reason = down[-1] if down else f"no answer within {self.timeout_seconds} s"
                    detail = f" (last error: {errors[-1]})" if errors else f" ({exc})"
                    raise KafkaUnavailable(f"Kafka at {self.bootstrap_servers}: {reason}{detail}") from exc

    def _partitions(self, client, errors: list, topic: str) -> list[int]:
        meta = self._metadata(client, errors, topic).topics.get(topic)
        return [] if meta is None or meta.error is not None else sorted(meta.partitions)

    def ensure_topic(self, topic: str) -> None:
        errors: list = []
        admin = AdminClient(self._conf(errors))
        existing = self._metadata(admin, errors).topics
        missing = [
            NewTopic(
                name,
                num_partitions=self.partitions,
                replication_factor=self.replication_factor,
                config={"retention.ms": str(self.retention_ms)},
            )
            for name in (topic, dlq_topic(topic))
            if name not in existing
        ]
        if not missing:
            return
        for _name, future in admin.create_topics(missing, request_timeout=self.timeout_seconds).items():
            try:
                future.result(timeout=self.timeout_seconds)
            except KafkaException as exc:  # another process created it first: fine
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def value_serializer(self, topic: str) -> Callable[[dict], bytes] | None:
        """JSON through the Schema Registry (validating, auto-registering), or None without one."""
        if not self.schema_registry_url:
            return None
        from confluent_kafka.schema_registry.json_schema import JSONSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        schema = json.dumps(contract_for(topic).schema)
        serializer = JSONSerializer(schema, registry_client(self.schema_registry_url))
        return lambda value: serializer(value, SerializationContext(topic, MessageField.VALUE))

    def _producer(self) -> tuple[Producer, list]:
        # Kept for the life of the resource (per process: librdkafka clients do not survive a fork):
        # an idempotent producer's first flush waits ~0.5 s for its producer id, too slow to pay
        # on every dead_letter call of a consumer run.
        if self._cached_producer is None or self._cached_producer[0] != os.getpid():
            errors: list = []
            producer = Producer(
                self._conf(
                    errors,
                    **{
                        "enable.idempotence": True,
                        "acks": "all",
                        "linger.ms": 20,
                        "partitioner": "consistent_random",  # CRC-32 of the key: log.partition_for
                        "message.timeout.ms": int(self.timeout_seconds * 1000),
                    },
                )
            )
            self._cached_producer = (os.getpid(), producer, errors)
        return self._cached_producer[1], self._cached_producer[2]

    def teardown_after_execution(self, context) -> None:
        self._cached_producer = None  # every call flushed already; dropping it closes the sockets

    def _deliver(self, items: Iterable[tuple[str, str | None, bytes | None, dict, int]]) -> list[Message]:
        """Write (topic, key, payload, headers, timestamp_ms) items; the delivered messages, or raise."""
        producer, errors = self._producer()
        delivered: list[Message] = []
        failed: list = []
        on_delivery = lambda err, msg: failed.append(err) if err else delivered.append(msg)  # noqa: E731
        sent = 0
        try:
            for topic, key, payload, headers, timestamp_ms in items:
                while True:
                    try:
                        producer.produce(
                            topic,
                            key=key,
                            value=payload,
                            headers=headers,
                            timestamp=timestamp_ms,
                            on_delivery=on_delivery,
                        )
                        break
                    except BufferError:  # local queue full: let deliveries drain, then retry
                        producer.poll(0.2)
                sent += 1
        finally:
            # Also when a message fails to prepare: what was queued is settled by this call, not
            # by a later one. message.timeout.ms bounds each message, so the flush is bounded too.
            left = producer.flush(self.timeout_seconds + 5)
        if failed or left or len(delivered) != sent:
            why = (failed or errors)[-3:]
            raise KafkaUnavailable(f"{len(failed) + left} of {sent} messages not delivered: {why}")
        return delivered

    def produce(self, topic: str, messages: Iterable[TopicMessage], source: str) -> ProduceResult:
        contract_for(topic)  # a topic without a contract fails before anything is created
        self.ensure_topic(topic)
        serialize = self.value_serializer(topic)

        def items():
            for message in messages:
                p = prepare(topic, message, source)
                payload = serialize(p.value) if serialize and p.reason is None else p.payload
                yield p.topic, p.key, payload, p.headers, p.timestamp_ms

        delivered = self._deliver(items())
        offsets: dict[int, tuple[int, int]] = {}
        for msg in (m for m in delivered if m.topic() == topic):
            first, last = offsets.get(msg.partition(), (msg.offset(), msg.offset()))
            offsets[msg.partition()] = (min(first, msg.offset()), max(last, msg.offset()))
        produced = sum(1 for m in delivered if m.topic() == topic)
        return ProduceResult(produced=produced, dead_lettered=len(delivered) - produced, offsets=offsets)

    def dead_letter(self, record: Record, reason: str) -> None:
        self.ensure_topic(record.topic)
        self._deliver(
            [(dlq_topic(record.topic), record.key, record.value, dlq_headers(record, reason), record.timestamp_ms)]
        )

    def _read(
        self,
        consumer: Consumer,
        topic: str,
        bounds: dict[int, tuple[int, int | None]],
        eof: dict[int, int] | None = None,
    ) -> Iterator[Message]:
        """Messages of each partition in [start, end) (end None: up to the end), in offset order.
        Fills `eof` with where each partition ended. Raises after timeout_seconds without progress."""
        pending = {p: end for p, (start, end) in bounds.items() if end is None or start < end}
        if not pending:
            return
        consumer.assign([TopicPartition(topic, p, bounds[p][0]) for p in pending])
        deadline = time.monotonic() + self.timeout_seconds
        while pending:
            if time.monotonic() > deadline:
                raise KafkaUnavailable(f"{topic}: no progress reading partitions {sorted(pending)}")
            for msg in consumer.consume(500, timeout=0.1):
                deadline = time.monotonic() + self.timeout_seconds
                p, offset, err = msg.partition(), msg.offset(), msg.error()
                if p not in pending:
                    continue
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(err)
                    end = pending.pop(p)
                    if end is not None and offset < end:
                        raise ValueError(f"{topic}/{p} ends at {offset}, before the requested end {end}")
                    if eof is not None:
                        eof[p] = offset
                    continue
                if pending[p] is not None and offset >= pending[p]:
                    pending.pop(p)
                    continue
                yield msg
                if pending[p] is not None and offset + 1 >= pending[p]:
                    pending.pop(p)
        consumer.unassign()

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset per partition ({} for a missing topic). The reported high watermark is only
        where reading starts: Tansu reports the last batch's base offset + 1, so read on to EOF."""
        with self._consumer(**{"auto.offset.reset": "latest"}) as (consumer, errors):
            partitions = self._partitions(consumer, errors, topic)
            starts = {p: (self._watermarks(consumer, topic, p)[1], None) for p in partitions}
            eof: dict[int, int] = {}
            for _ in self._read(consumer, topic, starts, eof):
                pass  # at most the last batch of each partition
        return {p: eof[p] for p in partitions}

    def topic_id(self, topic: str) -> str | None:
        """The broker's topic id (KIP-516): a deleted and recreated topic gets a new one. None for
        a missing topic, or a broker that has no ids (it answers the all-zero id)."""
        errors: list = []
        admin = AdminClient(self._conf(errors))
        meta = self._metadata(admin, errors, topic).topics.get(topic)
        if meta is None or meta.error is not None:
            return None
        future = admin.describe_topics(TopicCollection([topic]), request_timeout=self.timeout_seconds)[topic]
        try:
            found = str(future.result(timeout=self.timeout_seconds).topic_id)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return None
            raise
        return None if found.strip("A=") == "" else found

    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]:
        """First offset with timestamp >= ts_ms per partition (the end offset if none). Event times
        are not monotonic: select a day's messages by their partition_day header."""
        ends = self.end_offsets(topic)
        with self._consumer() as (consumer, _):
            lows = {p: self._watermarks(consumer, topic, p)[0] for p in ends}
            asked = [TopicPartition(topic, p, ts_ms) for p in ends]
            guess = {}
            for answer in consumer.offsets_for_times(asked, self.timeout_seconds):
                p = answer.partition
                guess[p] = ends[p] if answer.offset < 0 else min(max(answer.offset, lows[p]), ends[p])
            # The broker's answer must sit right after a record older than ts_ms and on one at
            # least as new; Tansu answers 0 for every timestamp, so check and scan when it is not.
            around = {p: (max(g - 1, lows[p]), min(g + 1, ends[p])) for p, g in guess.items()}
            ts = {(m.partition(), m.offset()): m.timestamp()[1] for m in self._read(consumer, topic, around)}
            wrong = {
                p
                for p, g in guess.items()
                if not (
                    (g == lows[p] or ts.get((p, g - 1), ts_ms) < ts_ms)
                    and (g == ends[p] or ts.get((p, g), -1) >= ts_ms)
                )
            }
            result = {p: ends[p] if p in wrong else g for p, g in guess.items()}
            for m in self._read(consumer, topic, {p: (lows[p], ends[p]) for p in wrong}):
                if m.timestamp()[1] >= ts_ms:
                    result[m.partition()] = min(result[m.partition()], m.offset())
        return result

    def _watermarks(self, consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
        # As reported, so unverified: Tansu's high one is wrong after a multi-message batch.
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), self.timeout_seconds, False)

    def decode(self, record: Record) -> tuple[dict | None, str | None]:
        """Parse and validate a consumed record against its topic's contract; with a registry,
        through its wire format (registry.py), the writer's schema id checked against the contract."""
        if self.schema_registry_url:
            return decode_registered(record, registry_client(self.schema_registry_url))
        return decode(record, contract_for(record.topic))

    def read_range(self, r: OffsetRange) -> list[Record]:
        with self._consumer() as (consumer, errors):
            self._metadata(consumer, errors, r.topic)  # fail fast when the broker is down
            return [_record(m) for m in self._read(consumer, r.topic, {r.partition: (r.start, r.end)})]

    def commit(self, group: str, r: OffsetRange) -> None:
        outcome: list = []
        on_commit = lambda err, parts: outcome.append((err, parts))  # noqa: E731
        with self._consumer(group, on_commit=on_commit) as (consumer, errors):
            self._metadata(consumer, errors, r.topic)
            consumer.commit(offsets=[TopicPartition(r.topic, r.partition, r.end)], asynchronous=True)
            deadline = time.monotonic() + self.timeout_seconds
            while not outcome and time.monotonic() < deadline:
                consumer.poll(0.1)  # serves on_commit; nothing is assigned, so no message comes back
        failures = [err for err, parts in outcome] + [tp.error for _, parts in outcome for tp in parts or ()]
        if not outcome or any(failures):
            why = failures or "timeout"
            raise KafkaUnavailable(f"commit of {r.run_key()} for group {group!r} failed: {why}")

    def committed(self, group: str, topic: str) -> dict[int, int]:
        with self._consumer(group) as (consumer, errors):
            partitions = self._partitions(consumer, errors, topic)
            if not partitions:
                return {}
            found = consumer.committed([TopicPartition(topic, p) for p in partitions], self.timeout_seconds)
        return {tp.partition: max(tp.offset, 0) for tp in found}  # -1001 (none yet) -> 0

    def topic_size(self, topic: str) -> int:
        return sum(self.end_offsets(topic).values())


def _record(msg: Message) -> Record:
    key = msg.key()
    return Record(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        key=None if key is None else key.decode("utf-8", errors="replace"),
        value=msg.value(),
        headers={k: (v or b"").decode("utf-8", errors="replace") for k, v in msg.headers() or []},
        timestamp_ms=msg.timestamp()[1],
    )
