"""The Kafka vocabulary, one name per thing: what is read (`Record`, by `OffsetRange`), what
is published (`TopicMessage`, answered by `ProduceResult`) and the log both go through
(`TopicLog`: a real broker in prod, an embedded SQLite log locally)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


@dataclass(frozen=True)
class OffsetRange:
    """[start, end) of one topic partition: the slice one consumer run reads."""

    topic: str
    partition: int
    start: int
    end: int

    def run_key(self) -> str:
        return f"{self.topic}/{self.partition}/{self.start}-{self.end}"


class Record(NamedTuple):
    """A message as read from a topic. Something that never reached a topic (a malformed API
    page) is addressed the same way to be dead-lettered, with partition and offset -1. A named
    tuple, as a day's landing reads millions: built from columns at C speed, it is immutable
    like a frozen dataclass at a fraction of the cost."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int


@dataclass(frozen=True)
class TopicMessage:
    """One message to publish: keyed, JSON value, event time (tz-aware UTC) = its day."""

    key: str
    value: dict
    event_time: datetime


@dataclass(frozen=True)
class ProduceResult:
    produced: int
    dead_lettered: int
    offsets: dict[int, tuple[int, int]]  # partition -> (first, last) offset written by this call


class TopicLog(Protocol):
    """A Kafka topic log; producers, landing, sensors and the committer depend on this alone."""

    def ensure_topic(self, topic: str) -> None: ...

    def produce(self, topic: str, messages: Iterable[TopicMessage], source: str) -> ProduceResult: ...

    def end_offsets(self, topic: str) -> dict[int, int]: ...

    def topic_id(self, topic: str) -> str | None:
        """The topic's incarnation: offsets name a message only within one (None: no topic).
        A recreated topic, or a lost local log, starts a new one (assets/log_history.py)."""
        ...

    def offsets_for_time(self, topic: str, ts_ms: int) -> dict[int, int]: ...

    def read_range(self, r: OffsetRange) -> list[Record]: ...

    def decode(self, record: Record) -> tuple[dict | None, str | None]: ...

    def dead_letter(self, record: Record, reason: str) -> None: ...

    def commit(self, group: str, r: OffsetRange) -> None: ...

    def committed(self, group: str, topic: str) -> dict[int, int]: ...

    def topic_size(self, topic: str) -> int: ...
