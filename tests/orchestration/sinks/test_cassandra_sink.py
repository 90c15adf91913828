"""The users serving sink: typed DDL, one prepared upsert, bounded concurrency, loud failures.

No CQL server runs on these machines: the Cassandra store is tested through a fake session that
records what it is sent, checks bound values against the declared column types as the driver
does, and keeps rows by primary key. One integration test runs when CASSANDRA_HOSTS names a server.
"""

import os
import re
import sqlite3
import uuid
from contextlib import closing, contextmanager
from datetime import date, datetime

import pytest
from cassandra import ConsistencyLevel, WriteTimeout

from assets.core.rows import COLUMNS, user_values
from orchestration.resources.cassandra import CassandraUserStore, EmbeddedUserStore

CLEAN_USERS_CONTRACT = {
    "user_id",
    "gender",
    "title",
    "first_name",
    "last_name",
    "email",
    "username",
    "dob_utc",
    "registered_utc",
    "phone",
    "cell",
    "nationality",
    "street_number",
    "street_name",
    "city",
    "state",
    "country",
    "postcode",
    "latitude",
    "longitude",
    "timezone_offset",
    "timezone_description",
    "id_name",
    "id_value",
    "picture_large",
    "picture_medium",
    "picture_thumbnail",
    "ingested_on",
    "ingested_at",
}
ORIGINAL_COLUMNS = {
    "id",
    "first_name",
    "last_name",
    "gender",
    "address",
    "post_code",
    "email",
    "username",
    "registered_date",
    "phone",
    "picture",
}


@pytest.fixture
def with_fake_session(fake_cassandra, monkeypatch):
    @contextmanager
    def fake_session(self):
        yield fake_cassandra

    monkeypatch.setattr(CassandraUserStore, "_session", fake_session)
    return fake_cassandra


def cassandra_store(**config) -> CassandraUserStore:
    return CassandraUserStore(hosts=["cassandra.invalid"], **config)


@pytest.fixture(params=["cassandra-fake-session", "embedded"])
def store(request, tmp_path):
    if request.param == "embedded":
        return EmbeddedUserStore(path=str(tmp_path / "sinks" / "users.sqlite"))
    request.getfixturevalue("with_fake_session")
    return cassandra_store(concurrency=4)


def stored_email(store, fake, user_id: str):
    if isinstance(store, EmbeddedUserStore):
        with closing(sqlite3.connect(store.path)) as con:
            return con.execute("select email from created_users where id = ?", [user_id]).fetchone()[0]
    return fake.rows[uuid.UUID(user_id)]["email"]


def bound_rows(fake) -> list[dict]:
    """Each bound INSERT as {column: value}, by the column list of the prepared CQL itself."""
    [statement] = fake.prepared
    names = re.match(r"INSERT INTO \S+ \((.*)\) VALUES", statement.query_string).group(1).split(", ")
    return [dict(zip(names, values, strict=True)) for _, values in fake.bound]


# Pure: the column mapping -------------------------------------------------------------------


def test_the_columns_cover_the_clean_users_contract_and_keep_the_original_ones():
    assert {field for _, _, field in COLUMNS if field} == CLEAN_USERS_CONTRACT
    assert ORIGINAL_COLUMNS <= {name for name, _, _ in COLUMNS}
    assert len({name for name, _, _ in COLUMNS}) == len(COLUMNS)


def test_a_row_becomes_typed_bind_values(make_user):
    values = dict(zip([name for name, _, _ in COLUMNS], user_values(make_user(postcode="01234")), strict=True))
    assert values["id"] == uuid.UUID(int=1) and isinstance(values["id"], uuid.UUID)
    assert values["post_code"] == "01234"  # the leading zero survives
    assert values["address"] == "12 Fleet Street, London, Greater London, United Kingdom"
    assert values["picture"] == "https://x/m.jpg"
    assert values["dob"] == datetime(1990, 5, 17, 8, 30)
    assert values["registered_date"] == datetime(2015, 3, 2, 11, 0, 5)
    assert values["ingested_on"] == date(2026, 11, 20)
    assert (values["street_number"], values["latitude"], values["id_value"]) == (12, 51.5142, None)


def test_numeric_postcodes_become_text_and_uuid_objects_pass_through(make_user):
    names = [name for name, _, _ in COLUMNS]
    values = dict(zip(names, user_values(make_user(postcode=75001, user_id=uuid.UUID(int=9))), strict=True))
    assert values["post_code"] == "75001"
    assert values["id"] == uuid.UUID(int=9)


def test_a_row_off_contract_fails_before_any_write(make_user):
    row = make_user()
    del row["ingested_on"]
    with pytest.raises(ValueError, match="ingested_on"):
        user_values(row)
    with pytest.raises(ValueError):
        user_values(make_user(user_id="not-a-uuid"))


# The Cassandra store through a fake session ---------------------------------------------------


def test_the_keyspace_and_table_are_created_if_missing_with_typed_columns(with_fake_session, make_user):
    cassandra_store(replication_factor=3).upsert_users([make_user()])
    keyspace_ddl, table_ddl = with_fake_session.executed[:2]
    assert keyspace_ddl == (
        "CREATE KEYSPACE IF NOT EXISTS spark_streams WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': '3'}"
    )
    assert table_ddl.startswith("CREATE TABLE IF NOT EXISTS spark_streams.created_users (id uuid, ")
    assert table_ddl.endswith(", PRIMARY KEY (id))")
    for column in (
        "post_code text",
        "dob timestamp",
        "registered_date timestamp",
        "latitude double",
        "longitude double",
        "street_number int",
        "ingested_on date",
        "ingested_at timestamp",
        "address text",
        "picture text",
    ):
        assert f" {column}," in table_ddl or f"({column}," in table_ddl


def test_one_prepared_insert_with_typed_values(with_fake_session, make_user):
    rows = [make_user(n) for n in range(3)]
    assert cassandra_store().upsert_users(rows) == 3
    [statement] = with_fake_session.prepared
    assert statement.query_string.startswith("INSERT INTO spark_streams.created_users (id, ")
    assert statement.query_string.count("?") == len(COLUMNS)
    bound = bound_rows(with_fake_session)
    assert [b["id"] for b in bound] == [uuid.UUID(int=n + 1) for n in range(3)]
    for values in bound:
        assert isinstance(values["id"], uuid.UUID)
        assert all(isinstance(values[c], datetime) for c in ("dob", "registered_date", "ingested_at"))
        assert type(values["ingested_on"]) is date
        assert values["post_code"] == "01234"


def test_the_consistency_level_comes_from_config(with_fake_session, make_user):
    cassandra_store().upsert_users([make_user()])
    cassandra_store(consistency="one").upsert_users([make_user()])
    assert [s.consistency_level for s in with_fake_session.prepared] == [
        ConsistencyLevel.LOCAL_QUORUM,
        ConsistencyLevel.ONE,
    ]
    with pytest.raises(ValueError, match="consistency"):
        cassandra_store(consistency="MOSTLY").upsert_users([make_user()])


def test_concurrency_is_bounded(with_fake_session, make_user):
    assert cassandra_store(concurrency=4).upsert_users([make_user(n) for n in range(40)]) == 40
    assert len(with_fake_session.rows) == 40
    assert 2 <= with_fake_session.max_in_flight <= 4


def test_a_failed_write_raises(with_fake_session, make_user):
    with_fake_session.fail_on = lambda values: values["username"] == "ada7"
    with pytest.raises(WriteTimeout):
        cassandra_store(concurrency=4).upsert_users([make_user(n) for n in range(20)])


def test_a_value_the_driver_cannot_bind_raises(with_fake_session, make_user):
    with pytest.raises(TypeError, match="latitude"):
        cassandra_store().upsert_users([make_user(0), make_user(1, latitude="north")])


def test_nothing_to_write_opens_no_session(with_fake_session):
    assert cassandra_store().upsert_users([]) == 0
    assert with_fake_session.executed == [] and with_fake_session.prepared == []


def test_names_spliced_into_cql_must_be_identifiers(with_fake_session, make_user):
    with pytest.raises(ValueError, match="identifier"):
        cassandra_store(keyspace="x; DROP KEYSPACE prod").upsert_users([make_user()])


def test_the_real_session_is_configured_and_always_shut_down(monkeypatch, fake_cassandra, make_user):
    clusters = []

    class RecordingCluster:
        def __init__(self, contact_points, **options):
            self.contact_points, self.options, self.closed = contact_points, options, False
            clusters.append(self)

        def connect(self):
            return fake_cassandra

        def shutdown(self):
            self.closed = True

    # The driver is imported when a session is made: replace its Cluster where it is looked up.
    monkeypatch.setattr("cassandra.cluster.Cluster", RecordingCluster)
    fake_cassandra.fail_on = lambda values: True
    store = CassandraUserStore(
        hosts=["c1", "c2"], port=9142, username="app", password="pw", connect_timeout_seconds=3.0, consistency="QUORUM"
    )
    with pytest.raises(WriteTimeout):
        store.upsert_users([make_user()])
    [cluster] = clusters
    assert cluster.contact_points == ["c1", "c2"] and cluster.options["port"] == 9142
    assert cluster.options["connect_timeout"] == 3.0
    assert cluster.options["auth_provider"].username == "app"
    [profile] = cluster.options["execution_profiles"].values()
    assert profile.consistency_level == ConsistencyLevel.QUORUM
    assert cluster.closed


# Behaviour, against the Cassandra store (fake session) and the embedded store --------------------


def test_a_replay_upserts_by_user_id(store, fake_cassandra, make_user):
    rows = [make_user(n) for n in range(3)]
    assert store.upsert_users(rows) == 3
    assert store.count() == 3
    assert store.upsert_users(rows) == 3
    assert store.count() == 3

    assert store.upsert_users([make_user(1, email="new@example.com")]) == 1
    assert store.count() == 3
    assert stored_email(store, fake_cassandra, rows[1]["user_id"]) == "new@example.com"


def test_the_last_row_of_a_duplicated_id_wins(store, fake_cassandra, make_user):
    rows = [make_user(0, email=f"v{i}@example.com") for i in range(5)]
    assert store.upsert_users(rows) == 5
    assert store.count() == 1
    assert stored_email(store, fake_cassandra, rows[0]["user_id"]) == "v4@example.com"


def test_an_empty_table_counts_zero(store):
    assert store.count() == 0


def test_the_embedded_store_keeps_values_readable(tmp_path, make_user):
    store = EmbeddedUserStore(path=str(tmp_path / "users.sqlite"))
    store.upsert_users([make_user(postcode=1234)])
    with closing(sqlite3.connect(store.path)) as con:
        con.row_factory = sqlite3.Row
        row = dict(con.execute("select * from created_users").fetchone())
    assert row["id"] == str(uuid.UUID(int=1)) and row["post_code"] == "1234"
    assert (row["dob"], row["ingested_on"], row["latitude"]) == ("1990-05-17T08:30:00", "2026-11-20", 51.5142)


# Against a real server, when there is one ------------------------------------------------------


@pytest.mark.skipif(not os.getenv("CASSANDRA_HOSTS"), reason="CASSANDRA_HOSTS names no Cassandra server")
def test_upsert_and_replay_against_a_real_cassandra(make_user):
    store = CassandraUserStore(
        hosts=[h.strip() for h in os.environ["CASSANDRA_HOSTS"].split(",") if h.strip()],
        port=int(os.getenv("CASSANDRA_PORT", "9042")),
        username=os.getenv("CASSANDRA_USERNAME") or None,
        password=os.getenv("CASSANDRA_PASSWORD") or None,
        consistency=os.getenv("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM"),
        keyspace=f"airstream_test_{uuid.uuid4().hex[:8]}",  # never the serving keyspace
    )
    rows = [make_user(n) for n in range(5)]
    try:
        assert store.upsert_users(rows) == 5
        assert store.upsert_users(rows) == 5
        assert store.count() == 5
        with store._session() as session:
            stored = session.execute(
                f"SELECT id, post_code, dob, ingested_on FROM {store.keyspace}.created_users WHERE id = %s",
                [uuid.UUID(int=1)],
            ).one()
        assert (stored.id, stored.post_code, stored.dob) == (uuid.UUID(int=1), "01234", datetime(1990, 5, 17, 8, 30))
        assert stored.ingested_on.date() == date(2026, 11, 20)
    finally:
        with store._session() as session:
            session.execute(f"DROP KEYSPACE IF EXISTS {store.keyspace}")
