"""The users serving table: Cassandra in prod, a SQLite file in the local profile.

Keyspace ``spark_streams``, table ``created_users``, as in the original Spark streaming job. Its
columns keep their names and meaning; the rest of the clean users contract is added, typed
(clean users field -> column CQL type):

- original columns: user_id -> ``id uuid PRIMARY KEY`` (the upsert key); first_name, last_name,
  gender, email, username, phone -> same name, text; postcode -> ``post_code text`` (text keeps
  "01234" and "EC1A 1BB"); registered_utc -> ``registered_date timestamp`` (text in the original);
  picture_medium -> ``picture text`` (the original held picture.medium); street_number,
  street_name, city, state, country -> ``address text``, built as the original did:
  "<number> <street>, <city>, <state>, <country>".
- added: dob_utc -> ``dob timestamp``; street_number ``int``; latitude, longitude ``double``;
  ingested_on ``date``; ingested_at ``timestamp``; title, cell, nationality, street_name, city,
  state, country, timezone_offset, timezone_description, id_name, id_value, picture_large,
  picture_thumbnail -> same name, text.

The mapping itself is pure and shared: `assets.core.rows.COLUMNS` and `user_values`.

A table left behind by the original job is not altered: preparing the INSERT then fails on the
first missing column, loudly, instead of writing a partial row.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date, datetime

import dagster as dg

from assets.core.rows import COLUMNS, user_values
from orchestration.resources.sqlite_store import open_store

_NAMES, _MARKS = ", ".join(name for name, _, _ in COLUMNS), ", ".join("?" * len(COLUMNS))


def _identifier(name: str) -> str:
    # Keyspace and table names are spliced into CQL text: accept plain identifiers only.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,47}", name):
        raise ValueError(f"not a plain CQL identifier: {name!r}")
    return name


class CassandraUserStore(dg.ConfigurableResource):
    """Cassandra: one prepared INSERT (an upsert in CQL) run with bounded concurrency."""

    hosts: list[str]
    port: int = 9042
    keyspace: str = "spark_streams"
    table: str = "created_users"
    consistency: str = "LOCAL_QUORUM"
    replication_factor: int = 1
    username: str | None = None
    password: str | None = None
    concurrency: int = 32
    connect_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 30.0

    def _consistency_level(self) -> int:
        # The driver is imported where a cluster is used: the local profile never does (~0.6 s).
        from cassandra import ConsistencyLevel

        try:
            return ConsistencyLevel.name_to_value[self.consistency.upper()]
        except KeyError:
            raise ValueError(f"unknown Cassandra consistency level {self.consistency!r}") from None

    @contextmanager
    def _session(self) -> Iterator:
        """The only place that talks to a cluster: tests replace it with a fake session."""
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile

        profile = ExecutionProfile(
            consistency_level=self._consistency_level(), request_timeout=self.request_timeout_seconds
        )
        cluster = Cluster(
            self.hosts,
            port=self.port,
            auth_provider=PlainTextAuthProvider(self.username, self.password) if self.username else None,
            connect_timeout=self.connect_timeout_seconds,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        )
        try:
            yield cluster.connect()
        finally:
            cluster.shutdown()

    def _ensure_schema(self, session) -> str:
        keyspace, table = _identifier(self.keyspace), _identifier(self.table)
        # SimpleStrategy as in the original job; the replication factor comes from the profile.
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': '{int(self.replication_factor)}'}}"
        )
        columns = ", ".join(f"{name} {cql_type}" for name, cql_type, _ in COLUMNS)
        session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.{table} ({columns}, PRIMARY KEY (id))")
        return f"{keyspace}.{table}"

    def upsert_users(self, rows: Sequence[dict]) -> int:
        """Insert or overwrite each row by `user_id`; returns the rows written. Raises on failure."""
        params = [user_values(row) for row in rows]  # a bad row fails before any write
        if not params:
            return 0
        with self._session() as session:
            target = self._ensure_schema(session)
            insert = session.prepare(f"INSERT INTO {target} ({_NAMES}) VALUES ({_MARKS})")
            insert.consistency_level = self._consistency_level()
            # Client-side timestamps follow submission order, so a later duplicate id still wins.
            # raise_on_first_error: the run fails, and its Kafka offsets stay uncommitted.
            from cassandra.concurrent import execute_concurrent_with_args

            execute_concurrent_with_args(
                session, insert, params, concurrency=self.concurrency, raise_on_first_error=True
            )
        return len(params)

    def count(self) -> int:
        with self._session() as session:
            target = self._ensure_schema(session)
            # A full scan: fine for a serving table of users, not for one of events.
            return session.execute(f"SELECT COUNT(*) FROM {target}").one()[0]

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of the user ids `ids` the table holds (the loss accounting's sink term): reads
        by partition key, 100 ids a query (a large IN list loads one coordinator)."""
        keys = [uuid.UUID(str(i)) for i in ids]
        with self._session() as session:
            target = self._ensure_schema(session)
            query = session.prepare(f"SELECT COUNT(*) FROM {target} WHERE id IN ?")
            return sum(session.execute(query, [keys[i : i + 100]]).one()[0] for i in range(0, len(keys), 100))


# uuids, timestamps and dates as ISO text: readable, and ordered as the values are.
_SQLITE_TYPES = {"int": "integer", "double": "real"}  # everything else: text


def _sqlite(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.isoformat() if isinstance(value, (date, datetime)) else value


class EmbeddedUserStore(dg.ConfigurableResource):
    """The same table and upsert semantics in one SQLite file; for the local profile."""

    path: str

    def _connect(self) -> sqlite3.Connection:
        columns = ", ".join(f"{name} {_SQLITE_TYPES.get(cql_type, 'text')}" for name, cql_type, _ in COLUMNS)
        schema = f"create table if not exists created_users ({columns}, primary key (id))"
        return open_store(self.path, schema, timeout_seconds=30.0)

    def upsert_users(self, rows: Sequence[dict]) -> int:
        params = [[_sqlite(v) for v in user_values(row)] for row in rows]
        # As a CQL INSERT: every column is overwritten, and the last row of a duplicated id wins.
        with closing(self._connect()) as con, con:
            con.executemany(f"insert or replace into created_users ({_NAMES}) values ({_MARKS})", params)
        return len(params)

    def count(self) -> int:
        with closing(self._connect()) as con:
            return con.execute("select count(*) from created_users").fetchone()[0]

    def count_ids(self, ids: Sequence[str]) -> int:
        """How many of the user ids `ids` the table holds (the loss accounting's sink term)."""
        keys = [str(uuid.UUID(str(i))) for i in ids]
        with closing(self._connect()) as con:
            return sum(
                con.execute(
                    f"select count(*) from created_users where id in ({', '.join('?' * len(chunk))})", chunk
                ).fetchone()[0]
                for chunk in (keys[i : i + 10_000] for i in range(0, len(keys), 10_000))
            )
