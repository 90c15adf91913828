"""The raw measurements sink: OpenAQ documents landed from Kafka, in MongoDB (prod) or SQLite (local).

A document is stored under ``_id = "<sensor_id>:<period end as canonical UTC ISO>"``, so replaying a
Kafka offset range upserts the same documents instead of adding copies. Stored shape: ``{_id,
location_id, sensor_id, parameter_id, parameter_name, period_end (UTC datetime), raw}``, where
``raw`` is the document exactly as consumed (measurement, kafka coordinates, fetched_at). The
mapping is pure and shared: `assets.core.rows.to_stored`; the embedded store maps landed batches
column-wise with the same results (`_landed_rows`), falling back to it row by row.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import orjson

from assets.core.memory import gc_paused
from assets.core.rows import (
    HELPER_FIELDS,
    LANDED_COLUMNS,
    canonical_end,
    landed_documents,
    period_end_of_id,
    to_stored,
)
from assets.streams import OPENAQ
from orchestration.resources.pipeline import pipelined
from orchestration.resources.sqlite_store import open_store

# The landed rows of one store call, by column (assets/core/rows.py LANDED_COLUMNS).
LandedColumns = Mapping[str, Sequence]  # Python lists or Arrow arrays

# The serving queries: one location, or one pollutant, over a time range.
INDEXES = (("location_id", "period_end"), ("parameter_id", "period_end"), ("period_end",))


@dataclass(frozen=True)
class UpsertResult:
    upserted: int
    modified: int
    matched: int
    rejected: list[tuple[dict, str]] = field(default_factory=list)  # (doc, reason): to dead-letter

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.upserted + other.upserted,
            self.modified + other.modified,
            self.matched + other.matched,
            self.rejected + other.rejected,
        )


NOTHING = UpsertResult(0, 0, 0)


class MeasurementWriteError(RuntimeError):
    """Raised so the run fails and its Kafka offsets are not committed."""


def storable(docs: Sequence[dict]) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(stored forms, (doc, reason) of those without an id): rejected, not dropped, since a
    silent loss would look like success."""
    stored, rejected = [], []
    for doc in docs:
        try:
            stored.append(to_stored(doc))
        except ValueError as reason:
            rejected.append((doc, str(reason)))
    return stored, rejected


class MongoMeasurementStore(dg.ConfigurableResource):
    """MongoDB (or a wire-compatible server): set-wise upserts, one unordered bulk write a chunk."""

    uri: str  # dg.EnvVar("MONGO_URI"): it may hold a password, so it is never logged or raised
    database: str = "airstream"
    collection: str = OPENAQ.table  # the raw documents keep their stream's table name
    timeout_ms: int = 10_000
    chunk_size: int = 1000

    @contextmanager
    def _collection(self) -> Iterator:
        # Imported here: the local profile never talks to MongoDB, and pymongo costs ~0.6 s.
        import pymongo

        # tz_aware: period_end reads back as an aware UTC datetime, not a naive one.
        client = pymongo.MongoClient(
            self.uri,
            serverSelectionTimeoutMS=self.timeout_ms,
            connectTimeoutMS=self.timeout_ms,
            tz_aware=True,
            appname="airstream",
        )
        try:
            yield client[self.database][self.collection]
        finally:
            client.close()

    @contextmanager
    def _writable(self) -> Iterator:
        from pymongo import ASCENDING, IndexModel

        with self._collection() as coll:
            # Idempotent: creating an index that exists with the same keys is a no-op.
            coll.create_indexes([IndexModel([(f, ASCENDING) for f in keys]) for keys in INDEXES])
            yield coll

    def upsert_measurements(self, docs: Sequence[dict]) -> UpsertResult:
        """Upsert by `_id`; `upserted + matched + len(rejected) == len(docs)`. Raises on a write error."""
        with self._writable() as coll:
            return _upsert_set_wise(coll, docs, self.chunk_size, f"{self.database}.{self.collection}")

    def upsert_landed(self, batches: Iterable[LandedColumns]) -> UpsertResult:
        """`upsert_measurements` over batches of landed rows, on one connection; the next batch
        is parsed while the server writes this one."""
        with self._writable() as coll:
            where = f"{self.database}.{self.collection}"
            write = functools.partial(_upsert_set_wise, coll, chunk_size=self.chunk_size, where=where)
            return sum(pipelined(map(_landed_documents, batches), write), NOTHING)

    def count(self, filter: dict | None = None) -> int:
        with self._collection() as coll:
            return coll.count_documents(filter or {})

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of `ids` the collection holds (the loss accounting's sink term). The ids of the
        sink name their period end, so the collection's ids are read back per UTC date over the
        `period_end` index, [earliest, latest] end of that date's ids, and matched here: one scan
        a date, where `$in` lists cost a query per few hundred ids (and the stand-in's time grows
        with the square of a list's length). Other strings are looked up by `$in`."""
        wanted, windows, others = set(ids), {}, []
        for doc_id in wanted:
            end = period_end_of_id(doc_id)
            if end is None:
                others.append(doc_id)
                continue
            low, high = windows.get(end.date(), (end, end))
            windows[end.date()] = (min(low, end), max(high, end))
        with self._collection() as coll:
            found = sum(
                doc["_id"] in wanted
                for low, high in windows.values()
                for doc in coll.find({"period_end": {"$gte": low, "$lte": high}}, {"_id": 1}, batch_size=10_000)
            )
            return found + len(_existing(coll, others, {"_id": 1}))


# Ids per `$in` lookup. MongoDB takes thousands at no extra cost; the MongoDB-wire stand-in of the
# tests (SecantusDB) spends time growing with the square of a list's length: 20k ids cost 1.1 s
# in lists of 50, 1.6 s of 100, 11 s of 1,000 and 100 s of 10,000 (tests/benchmarks/bench_mongo_sink.py).
LOOKUP_IDS = 100


def _existing(coll, ids: Sequence[str], projection: dict | None = None) -> dict:
    """{_id: stored document as raw BSON} of those of `ids` the collection holds."""
    from bson.raw_bson import RawBSONDocument

    raw = coll.with_options(codec_options=coll.codec_options.with_options(document_class=RawBSONDocument))
    found = {}
    for start in range(0, len(ids), LOOKUP_IDS):
        for doc in raw.find({"_id": {"$in": list(ids[start : start + LOOKUP_IDS])}}, projection):
            found[doc["_id"]] = doc
    return found


def _upsert_set_wise(coll, docs: Sequence[dict], chunk_size: int, where: str) -> UpsertResult:
    """Per chunk: read which ids exist (their stored BSON), insert the new ones, replace the
    existing ones whose BSON differs, and leave equal ones alone. Counted as MongoDB counts
    ReplaceOne upserts applied one by one in order: a new id is upserted once and its later
    copies matched; a copy is modified when its BSON differs from what the id holds before it
    (an equal replacement modifies nothing). An id inserted by another writer meanwhile fails
    its insert with a duplicate key and is replaced instead."""
    import bson
    from pymongo import InsertOne, ReplaceOne
    from pymongo.errors import BulkWriteError

    stored, rejected = storable(docs)
    upserted = modified = matched = 0
    state: dict[str, bytes] = {}  # id -> its BSON as of the last copy seen, this call
    for start in range(0, len(stored), chunk_size):
        chunk = stored[start : start + chunk_size]
        unseen = list(dict.fromkeys(d["_id"] for d in chunk if d["_id"] not in state))
        state |= {doc_id: raw.raw for doc_id, raw in _existing(coll, unseen).items()}
        new, changed = {}, {}  # id -> its last copy: the one the collection must end with
        for doc in chunk:
            encoded = bson.encode(doc, codec_options=coll.codec_options)
            previous = state.get(doc["_id"])
            if previous is None:
                upserted += 1
                new[doc["_id"]] = doc
            else:
                matched += 1
                if previous != encoded:
                    modified += 1
                    (new if doc["_id"] in new else changed)[doc["_id"]] = doc
            state[doc["_id"]] = encoded
        written = [*new.values(), *changed.values()]  # inserts first: ops[i] writes written[i]
        ops = [InsertOne(d) for d in new.values()] + [
            ReplaceOne({"_id": i}, d, upsert=True) for i, d in changed.items()
        ]
        if not ops:
            continue  # a replay: every copy equal to what is stored
        try:
            try:
                # Unordered: one bad document does not stop the others; a replay repairs the rest.
                coll.bulk_write(ops, ordered=False)
            except BulkWriteError as error:
                failed = error.details.get("writeErrors", [])
                raced = [written[e["index"]] for e in failed if e.get("code") == 11000 and e["index"] < len(new)]
                if len(raced) < len(failed) or error.details.get("writeConcernErrors"):
                    raise
                again = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in raced]
                result = coll.bulk_write(again, ordered=False)
                # Not ours to insert after all: each raced id was there, matched and maybe modified.
                upserted -= len(raced) - result.upserted_count
                matched += len(raced) - result.upserted_count
                modified += result.modified_count
        except BulkWriteError as error:
            # A short summary for the run's failure; the chained error lists every document.
            failed = error.details.get("writeErrors", [])
            first = (failed or error.details.get("writeConcernErrors") or [{}])[0].get("errmsg")
            raise MeasurementWriteError(
                f"{len(failed)} of {len(chunk)} upserts failed after {start} documents into {where}; first: {first}"
            ) from error
    return UpsertResult(upserted, modified, matched, rejected)


_SQL_OPS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


COLUMNS = ("_id", *HELPER_FIELDS, "raw")
# Rows per INSERT: executemany steps SQLite once a row, and every step releases the GIL and must
# win it back from the thread that parses the next batch (up to a 5 ms switch interval each),
# so the two threads took turns instead of overlapping. 1,000 rows (7,000 parameters, below
# SQLite's limit of 32,766) are one step.
INSERT_ROWS = 1000
COUNT_IDS = 10_000  # ids per existence count, one parameter each
# Rows apply in statement order, so a replayed copy of an id later in the batch updates the row
# its earlier copy wrote, as one by one would. As in MongoDB, "modified" counts real changes
# only: an equal row is not rewritten, and SQLite counts no change for it.
UPSERT_SET = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
UPSERT_DIFFERS = " or ".join(f"measurements.{c} is not excluded.{c}" for c in COLUMNS[1:])
CACHE_KIB = 128 * 1024
# A new file's pages: 16 kB rather than 4 kB, so a day's 1M rows of about 1 kB (the raw document)
# and their four indexes split and write fewer pages: a real M day's writes 13.5 -> 9.2 s
# (docs/performance.md). A file created before keeps its 4 kB pages and works as it did.
PAGE_BYTES = 16_384
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024


@functools.cache
def _upsert(rows: int) -> str:
    values = ", ".join([f"({', '.join('?' * len(COLUMNS))})"] * rows)
    return (
        f"insert into measurements ({', '.join(COLUMNS)}) values {values}"
        f" on conflict (_id) do update set {UPSERT_SET} where {UPSERT_DIFFERS}"
    )


@functools.cache
def _count_existing(ids: int) -> str:
    return f"select count(*) from measurements where _id in ({', '.join('?' * ids)})"


def _row(doc: dict) -> tuple:
    """The embedded store's row (columns of COLUMNS) of a stored form."""
    return (
        doc["_id"],
        doc["location_id"],
        doc["sensor_id"],
        doc["parameter_id"],
        doc["parameter_name"],
        _sql_time(doc["period_end"]),
        orjson.dumps(doc["raw"]).decode(),
    )


def _rows(docs: Sequence[dict]) -> tuple[list[tuple], list[tuple[dict, str]]]:
    """The embedded store's rows of `docs` (columns of COLUMNS), and the rejected ones."""
    stored, rejected = storable(docs)
    return [_row(doc) for doc in stored], rejected


def _landed_documents(columns: LandedColumns) -> list[dict]:
    with gc_paused():  # 20k parsed documents at a time: see assets/core/memory.py
        return landed_documents({name: _values(columns[name]) for name in LANDED_COLUMNS})


def _values(column: Sequence) -> Sequence:
    """A landed column as Python values: the sink hands over Arrow arrays, tests hand lists."""
    return column.to_pylist() if hasattr(column, "to_pylist") else column


# The column-wise mapping of landed rows: DuckDB's C JSON reader instead of a parse, a dict and a
# dump per document in Python (8-12 s -> 4 s for a million; docs/performance.md). A row takes it
# only when its verdict cannot differ from `to_stored`'s: a JSON object with an integer
# `sensor_id`, a text period end that `canonical_end` accepts, integer or null ids, a text or
# null parameter name and no `kafka` key of its own. Every other row (a reject, or an unusual but
# storable shape) goes through `to_stored` one by one, so rejects and their reasons are those of
# the per-document path. DuckDB's reader also accepts NaN and trailing commas, which orjson
# refuses; a landed payload cannot hold them, since the landing parsed it with orjson.
_PATHS = (
    "$.sensor_id",
    "$.location_id",
    "$.measurement.parameter.id",
    "$.measurement.parameter.name",
    "$.measurement.period.datetimeTo.utc",
    "$.kafka",
)
_INTEGER = "in ('UBIGINT', 'BIGINT')"
_MAP_LANDED = f"""
with parsed as (
    select seq, kafka_topic, kafka_partition, kafka_offset, case when json_valid(payload) then payload end as p
    from landed
), typed as (
    select *, json_type(p) as shape, json_type(p, {list(_PATHS)}) as t, json_extract_string(p, {list(_PATHS[:5])}) as v
    from parsed
)
select
    seq,
    coalesce(
        shape = 'OBJECT'
        and t[1] {_INTEGER} and try_cast(v[1] as bigint) is not null
        and (t[2] is null or t[2] = 'NULL' or (t[2] {_INTEGER} and try_cast(v[2] as bigint) is not null))
        and (t[3] is null or t[3] = 'NULL' or (t[3] {_INTEGER} and try_cast(v[3] as bigint) is not null))
        and (t[4] is null or t[4] in ('NULL', 'VARCHAR'))
        and t[5] = 'VARCHAR'
        and t[6] is null,
        false
    ) as fast,
    try_cast(v[1] as bigint) as sensor_id,
    try_cast(v[2] as bigint) as location_id,
    try_cast(v[3] as bigint) as parameter_id,
    v[4] as parameter_name,
    v[5] as stamp,
    -- The document as consumed, as `orjson.dumps` writes it: minified, its Kafka coordinates last.
    left(json(p)::varchar, -1)
        || ',"kafka":'
        || json_object('topic', kafka_topic, 'partition', kafka_partition, 'offset', kafka_offset)::varchar
        || '}}' as raw
from typed
"""


def _arrow(column: Sequence, kind):
    import pyarrow as pa

    return column.cast(kind) if isinstance(column, pa.Array | pa.ChunkedArray) else pa.array(column, kind)


def _landed_rows(con, columns: LandedColumns) -> tuple[list[tuple], list[tuple[dict, str]]]:
    """`_rows(landed_documents(columns))`, column-wise on the DuckDB connection `con`; in id
    order (the copies of one id keep theirs), which keeps SQLite's id B-tree writes local."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = (pa.string(), pa.string(), pa.int64(), pa.int64())  # as the landing writes them
    landed = pa.table(
        {name: _arrow(columns[name], kind) for name, kind in zip(LANDED_COLUMNS, types, strict=True)}
    ).append_column("seq", pa.array(range(len(columns[LANDED_COLUMNS[0]])), pa.int64()))
    con.register("landed", landed)
    try:
        mapped = con.execute(_MAP_LANDED).to_arrow_table()
    finally:
        con.unregister("landed")
    stamps = pc.unique(mapped["stamp"].filter(mapped["fast"])).to_pylist()
    canonical = [canonical_end(stamp) for stamp in stamps]
    known = pa.array([c is not None for c in canonical], pa.bool_())
    found = pc.index_in(mapped["stamp"], pa.array(stamps, pa.string()))
    fast = pc.and_(mapped["fast"], pc.fill_null(pc.take(known, found), False))
    ends = pa.array([c and c[1] for c in canonical], pa.string())
    times = pa.array([c and _sql_time(c[0]) for c in canonical], pa.string())
    rows_table = pa.table(
        {
            "_id": pc.binary_join_element_wise(pc.cast(mapped["sensor_id"], pa.string()), pc.take(ends, found), ":"),
            "location_id": mapped["location_id"],
            "sensor_id": mapped["sensor_id"],
            "parameter_id": mapped["parameter_id"],
            "parameter_name": mapped["parameter_name"],
            "period_end": pc.take(times, found),
            "raw": mapped["raw"],
            "seq": mapped["seq"],
        }
    ).filter(fast)
    slow = mapped["seq"].filter(pc.invert(fast)).to_pylist()
    if not slow:
        rows_table = rows_table.sort_by([("_id", "ascending"), ("seq", "ascending")])
        return list(zip(*(rows_table[c].to_pylist() for c in COLUMNS), strict=True)), []
    # The few others, one by one, merged in by their place in the batch.
    others = landed.take(slow)
    with gc_paused():
        docs = landed_documents({name: others[name].to_pylist() for name in LANDED_COLUMNS})
    merged, rejected = [], []
    for seq, doc in zip(slow, docs, strict=True):
        try:
            merged.append((*_row(to_stored(doc)), seq))
        except ValueError as reason:
            rejected.append((doc, str(reason)))
    merged += zip(*(rows_table[c].to_pylist() for c in (*COLUMNS, "seq")), strict=True)
    merged.sort(key=lambda row: (row[0], row[-1]))
    return [row[:-1] for row in merged], rejected


@functools.lru_cache(maxsize=16_384)  # a day's documents share a few hundred period ends
def _sql_time(value: datetime) -> str:
    # Fixed width, so text order is time order (canonical ids would sort "00.5Z" before "00Z").
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _sql(value):
    return _sql_time(value) if isinstance(value, datetime) else value


class EmbeddedMeasurementStore(dg.ConfigurableResource):
    """One SQLite file with the same ids, helper columns and indexes; for the local profile."""

    path: str

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        indexes = "".join(
            f"; create index if not exists ix_{'_'.join(keys)} on measurements ({', '.join(keys)})" for keys in INDEXES
        )
        schema = (
            "create table if not exists measurements (_id text primary key, location_id integer,"
            " sensor_id integer, parameter_id integer, parameter_name text, period_end text, raw text)"
        )
        con = open_store(
            self.path,
            schema + indexes,
            timeout_seconds=30.0,
            check_same_thread=check_same_thread,
            page_size=PAGE_BYTES,
        )
        # A day's batches insert into four B-trees (the id and three indexes): SQLite's default
        # 2 MB page cache rereads their pages from the OS at every batch. Taken only as used.
        con.execute(f"pragma cache_size = -{CACHE_KIB}")
        return con

    def upsert_measurements(self, docs: Sequence[dict]) -> UpsertResult:
        with closing(self._connect()) as con:
            return self._store(con, _rows(docs))

    def upsert_landed(self, batches: Iterable[LandedColumns]) -> UpsertResult:
        """`upsert_measurements` over batches of landed rows, on one connection (its page cache
        stays warm): the next batch is parsed and mapped while a writer thread stores this one,
        since SQLite releases the GIL as it works. Each batch is one transaction."""
        import duckdb

        with duckdb.connect() as mapper, closing(self._connect(check_same_thread=False)) as con:
            # A checkpoint every 40 MB of WAL rather than every 4 MB (SQLite's default): a day's
            # hot index pages are copied into the file once per ten batches, not after each
            # (6.5 instead of 7.3 s for a million rows; tests/benchmarks/bench_mongo_sink.py).
            page = con.execute("pragma page_size").fetchone()[0]
            con.execute(f"pragma wal_autocheckpoint = {WAL_CHECKPOINT_BYTES // page}")
            mapper.execute("set threads = 1")  # a sink step beside others: the one core the Python it replaces used
            encoded = (_landed_rows(mapper, columns) for columns in batches)
            return sum(pipelined(encoded, lambda rows: self._store(con, rows)), NOTHING)

    def _store(self, con: sqlite3.Connection, encoded: tuple[list[tuple], list[tuple[dict, str]]]) -> UpsertResult:
        rows, rejected = encoded
        # One by one, the first copy of a new id is upserted and every other copy matched.
        ids = list(dict.fromkeys(row[0] for row in rows))
        try:
            with con:  # one transaction: a failure writes nothing
                existing = 0
                for start in range(0, len(ids), COUNT_IDS):
                    chunk = ids[start : start + COUNT_IDS]
                    existing += con.execute(_count_existing(len(chunk)), chunk).fetchone()[0]
                before = con.total_changes
                for start in range(0, len(rows), INSERT_ROWS):
                    chunk = rows[start : start + INSERT_ROWS]
                    con.execute(_upsert(len(chunk)), [value for row in chunk for value in row])
                changes = con.total_changes - before  # rows inserted, plus rows really updated
        except sqlite3.Error as error:
            raise MeasurementWriteError(
                f"upsert into {self.path} failed, none of the batch's {len(rows)} rows written: {error}"
            ) from error
        upserted = len(ids) - existing
        return UpsertResult(upserted, changes - upserted, len(rows) - upserted, rejected)

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of `ids` the store holds (the loss accounting's sink term)."""
        with closing(self._connect()) as con:
            return sum(
                con.execute(_count_existing(len(chunk)), chunk).fetchone()[0]
                for chunk in (list(ids[i : i + COUNT_IDS]) for i in range(0, len(ids), COUNT_IDS))
            )

    def count(self, filter: dict | None = None) -> int:
        """Equality and $gt/$gte/$lt/$lte on `_id` and the helper fields; anything else raises."""
        clauses, params = [], []
        for name, condition in (filter or {}).items():
            for op, value in condition.items() if isinstance(condition, dict) else [("$eq", condition)]:
                if name not in ("_id", *HELPER_FIELDS) or op not in _SQL_OPS:
                    raise ValueError(f"the embedded store cannot filter on {name!r} with {op!r}")
                clauses.append(f"{name} {_SQL_OPS[op]} ?")
                params.append(_sql(value))
        with closing(self._connect()) as con:
            query = f"select count(*) from measurements where {' and '.join(clauses) or 'true'}"
            return con.execute(query, params).fetchone()[0]
