"""The DuckDB snapshot reader against a file a writer keeps rewriting, as the pipeline does."""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import duckdb

from orchestration.serving.readers import DuckDBSnapshotReader
from tests.waiting import WAIT_SECONDS


def test_readers_never_fail_and_never_block_a_writer_while_snapshots_are_swapped(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with closing(duckdb.connect(str(path))) as con:
        con.execute("create schema marts; create table marts.t as select range as x from range(20000)")
    reader = DuckDBSnapshotReader(path, tmp_path / "snapshots", check_seconds=0)
    sums = []

    def read(_):
        rows = reader.rows("select count(*) as n, sum(x) as s from marts.t", [])
        sums.append((rows[0]["n"], rows[0]["s"]))

    with ThreadPoolExecutor(4) as pool:
        for version in range(1, 16):
            reads = [pool.submit(read, i) for i in range(8)]
            with closing(duckdb.connect(str(path))) as writer:  # a held lock would raise here
                writer.execute("create or replace table marts.t as select range as x from range(?)", [20000 + version])
            for r in reads:
                r.result()  # a read on a retired snapshot must not have failed
    reader.close()
    # Every answer is one whole version of the table, never a mix.
    assert {n for n, _ in sums} <= {20000 + v for v in range(16)}
    assert all(s == n * (n - 1) // 2 for n, s in sums)
    assert reader.snapshots_taken > 1
    assert len(sums) == 15 * 8


def test_a_query_in_flight_on_a_retired_snapshot_completes(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with closing(duckdb.connect(str(path))) as con:
        con.execute("create schema marts; create table marts.t as select 1 as x")
    reader = DuckDBSnapshotReader(path, tmp_path / "snapshots", check_seconds=0)
    reader.rows("select 1", [])
    entered, release = threading.Event(), threading.Event()

    def held(x: int) -> int:  # keeps the first query inside the old snapshot until released
        entered.set()
        release.wait(WAIT_SECONDS)
        return x

    reader._con.create_function("held", held, [int], int)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(reader.rows, "select held(x) as x from marts.t", [])
        assert entered.wait(WAIT_SECONDS)
        with closing(duckdb.connect(str(path))) as writer:
            writer.execute("create or replace table marts.t as select 2 as x")
        # The swap neither waits for nor breaks the query still reading the old snapshot.
        assert reader.rows("select x from marts.t", []) == [{"x": 2}]
        assert not in_flight.done()
        release.set()
        assert in_flight.result() == [{"x": 1}]
    reader.close()


def test_a_postgresql_that_is_not_there_is_a_503_not_a_500(tmp_path):
    from fastapi.testclient import TestClient

    from orchestration.serving.api import create_app
    from orchestration.serving.api_keys import KeyStore
    from orchestration.serving.settings import ServingSettings

    store = KeyStore(tmp_path / "api_keys.sqlite")  # prod serves only with a key
    key = store.create("test", ("air-quality",))
    # Port 1 on loopback: nothing listens, so the pool's connect is refused at once.
    settings = ServingSettings(
        profile="prod", pg_host="127.0.0.1", pg_port=1, data_dir=tmp_path, api_keys_path=store.path
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/locations", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 503 and "warehouse unavailable" in response.text, response.text
        assert client.get("/ready").status_code == 503
