"""The API on the prod profile's reader path: PostgreSQL, logged in as a member of the
read-only role. The marts are the ones a real pipeline run built (copied from its DuckDB
warehouse into schema `marts`, typed as DuckDB typed them), the role made by `make reader-role`."""

import os
import subprocess
from contextlib import closing
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.extras
import pytest
from api_checks import check_every_endpoint, check_filters
from fastapi.testclient import TestClient

from orchestration.serving.api import create_app
from orchestration.serving.api_keys import KeyStore
from orchestration.serving.settings import ServingSettings

REPO = Path(__file__).resolve().parents[2]
TYPES = {
    "DATE": "date",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIMESTAMP": "timestamp",
    "HUGEINT": "numeric",
    "FLOAT": "real",
    "SMALLINT": "smallint",
}
MARTS = ("agg_air_quality_daily", "dim_locations", "users_by_country_daily")


def copy_marts(warehouse: Path, db: dict) -> None:
    with (
        closing(duckdb.connect(str(warehouse), read_only=True)) as duck,
        psycopg2.connect(**db) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("create schema if not exists marts")
        for table in MARTS:
            columns = duck.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            cur.execute(f"create table marts.{table} ({', '.join(f'{c} {TYPES[t]}' for c, t in columns)})")
            rows = duck.execute(f"select * from marts.{table}").fetchall()
            psycopg2.extras.execute_values(cur, f"insert into marts.{table} values %s", rows)


@pytest.fixture(scope="module")
def reader_db(pipeline_day, own_postgres_db):
    postgres_db = own_postgres_db  # the session's database holds the prod pipeline's marts already
    role, login = f"{postgres_db['dbname']}_reader", f"{postgres_db['dbname']}_api"
    copy_marts(pipeline_day["warehouse"], postgres_db)
    subprocess.run(
        ["make", "-s", "reader-role"],
        cwd=REPO,
        check=True,
        env={
            **os.environ,
            "WAREHOUSE_ADMIN_USER": postgres_db["user"],
            "WAREHOUSE_HOST": postgres_db["host"],
            "WAREHOUSE_PORT": str(postgres_db["port"]),
            "WAREHOUSE_USER": postgres_db["user"],
            "WAREHOUSE_DB": postgres_db["dbname"],
            "WAREHOUSE_READER_ROLE": role,
        },
    )
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute(f"grant select on all tables in schema marts to {role}")
        cur.execute(f"create role {login} login")
        cur.execute(f"grant {role} to {login}")
        cur.execute("create table public.secret (x int)")
    yield {**postgres_db, "user": login, "role": role}
    with psycopg2.connect(**postgres_db) as conn, conn.cursor() as cur:
        cur.execute(f"drop role {login}")
        cur.execute(f"drop owned by {role}")
        cur.execute(f"drop role {role}")


@pytest.fixture(scope="module")
def client(reader_db, tmp_path_factory):
    store = KeyStore(tmp_path_factory.mktemp("keys") / "api_keys.sqlite")  # prod serves only with a key
    key = store.create("test", ("air-quality", "users"))
    settings = ServingSettings(
        profile="prod",
        pg_host=reader_db["host"],
        pg_port=reader_db["port"],
        pg_db=reader_db["dbname"],
        pg_user=reader_db["user"],
        reader_role=reader_db["role"],
        api_keys_path=store.path,
    )
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        client.app_state = app.state
        yield client


def pg_query(db):
    def query(sql):
        with (
            psycopg2.connect(**{k: v for k, v in db.items() if k != "role"}) as conn,
            conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
        ):
            cur.execute(sql)
            return [dict(r) for r in cur.fetchall()]

    return query


def test_every_endpoint_pages_through_exactly_the_marts(client, reader_db):
    check_every_endpoint(client, pg_query(reader_db))


def test_filters_return_exactly_the_matching_rows(client, reader_db):
    check_filters(client, pg_query(reader_db))


def test_ready_and_the_session_is_the_read_only_role(client, reader_db):
    assert client.get("/ready").json() == {"status": "ready", "marts": len(MARTS)}
    reader = client.app_state.reader
    assert reader.rows("select current_user as u", []) == [{"u": reader_db["role"]}]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        reader.rows("select * from public.secret", [])
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        reader.rows("create temporary table t as select 1 as x", [])
