"""Sinks fail safely against real servers: MongoDB (SecantusDB) killed mid-write, the
warehouse's PostgreSQL connection cut mid-COPY, the topic broker (Tansu) gone mid-run. Each time
the run fails with a clear error, the landing group's offsets stay where they were, nothing
half-written is visible, and the retry lands exact counts."""

import os
import uuid

import dagster as dg
import psycopg2
import pymongo
import pytest
from faults import TcpProxy, commit_completed, failure_message, free_port, run_range, start_secantus, start_tansu

from assets.core.rows import LANDED_COLUMNS, landed_documents
from assets.landing import openaq_measurements_landing, randomuser_users_landing
from assets.sinks import mongo_openaq_measurements
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for, with_io_managers
from orchestration.resources.kafka import KafkaResource
from orchestration.resources.mongo import MongoMeasurementStore, storable
from orchestration.resources.openaq import OpenAQResource
from orchestration.resources.randomuser import RandomUserResource
from orchestration.resources.warehouse import PostgresWarehouse
from orchestration.sensors import evaluate_topic

DAY = "2026-10-05"


@pytest.fixture
def broker(tmp_path):
    """A Tansu of this test's own, behind a proxy that can take it away from the clients."""
    proc, bootstrap = start_tansu(tmp_path)
    proxy = TcpProxy(int(bootstrap.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()
    proc.kill()
    proc.wait()


@pytest.fixture
def resources(spark, tmp_path, monkeypatch, broker):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    local = resources_for("local")
    local["kafka"] = KafkaResource(bootstrap_servers=f"127.0.0.1:{broker.port}", timeout_seconds=5)
    local["openaq"] = OpenAQResource(mode="sample", sample_locations=3)
    local["randomuser"] = RandomUserResource(mode="sample", users_per_day=200)
    return local


def pull_and_tick(resources, pull_keys, topic, landing, max_batch):
    assets = all_assets()
    pulled = dg.materialize(
        assets, selection=dg.AssetSelection.assets(*pull_keys), resources=resources, partition_key=DAY
    )
    assert pulled.success
    tick = evaluate_topic(None, resources["kafka"], topic, landing, max_batch=max_batch, max_runs=100)
    assert len(tick.run_requests) >= 2
    return assets, tick.run_requests


OPENAQ_PULL = (["raw", "openaq_locations"], ["api", "openaq_measurements"], ["kafka", "openaq_measurements"])
USERS_PULL = (["api", "randomuser_users"], ["kafka", "randomuser_users"])


def test_mongodb_killed_mid_write(resources, tmp_path, monkeypatch):
    port = free_port()
    server = start_secantus(tmp_path / "mongo", port)
    try:
        store = MongoMeasurementStore(
            uri=f"mongodb://127.0.0.1:{port}/", database="faults", timeout_ms=2000, chunk_size=20
        )
        resources["measurement_store"] = store
        assets, requests = pull_and_tick(resources, OPENAQ_PULL, OPENAQ_TOPIC, openaq_measurements_landing, 10_000)
        selection = dg.AssetSelection.assets(openaq_measurements_landing, mongo_openaq_measurements)
        instance = dg.DagsterInstance.ephemeral()
        for request in requests[:-1]:
            assert run_range(assets, selection, resources, request, instance).success
        kafka = resources["kafka"]
        before = commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"])
        stored_before = store.count()

        # The server dies between two bulk writes of the last range's run.
        real_bulk_write, calls = pymongo.collection.Collection.bulk_write, []

        def dies_after_one_chunk(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                server.kill()
                server.wait()
            return real_bulk_write(self, *args, **kwargs)

        monkeypatch.setattr(pymongo.collection.Collection, "bulk_write", dies_after_one_chunk)
        failed = run_range(assets, selection, resources, requests[-1], instance)
        monkeypatch.undo()
        assert not failed.success
        # A pooled connection reads "connection closed", a new one "Connection refused": both
        # pymongo ConnectionFailures that name the server.
        message = failure_message(failed)
        assert f"127.0.0.1:{port}" in message
        assert "pymongo.errors.AutoReconnect" in message or "pymongo.errors.ServerSelectionTimeoutError" in message
        assert (
            commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"]) == before
        )  # the failed range holds its partition

        server = start_secantus(tmp_path / "mongo", port)  # back, with what it had written
        landed = {}
        raw = resources["lake"].read_days("raw", "openaq_measurements", [dg_day()])
        for batch in raw.batches(dg_day(), LANDED_COLUMNS):
            docs = landed_documents(batch.to_pydict())
            landed |= {d["_id"]: d["raw"] for d in storable(docs)[0]}
        with pymongo.MongoClient(store.uri) as client:
            visible = {d["_id"]: d["raw"] for d in client["faults"][store.collection].find()}
        # Upserts are per document: what is there is whole and exactly as landed, never torn.
        assert stored_before <= len(visible) <= len(landed)
        assert all(raw == landed[_id] for _id, raw in visible.items())

        retried = run_range(assets, selection, resources, requests[-1], instance)
        assert retried.success
        with pymongo.MongoClient(store.uri) as client:
            ids = {d["_id"] for d in client["faults"][store.collection].find({}, {"_id": 1})}
        expected = set(landed)
        assert ids == expected and store.count() == len(expected)
        assert commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"]) == kafka.end_offsets(OPENAQ_TOPIC)
    finally:
        server.kill()
        server.wait()


def dg_day():
    from datetime import date

    return date.fromisoformat(DAY)


def test_broker_gone_mid_run(resources, broker, monkeypatch):
    assets, requests = pull_and_tick(resources, OPENAQ_PULL, OPENAQ_TOPIC, openaq_measurements_landing, 10_000)
    selection = dg.AssetSelection.assets(openaq_measurements_landing)
    instance = dg.DagsterInstance.ephemeral()
    lake, kafka = resources["lake"], resources["kafka"]
    for request in requests[:-1]:
        assert run_range(assets, selection, resources, request, instance).success
    before = commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"])
    day_dir = lake.partition_dir("raw", "openaq_measurements", dg_day())
    files_before = sorted(p.name for p in day_dir.glob("*.parquet"))

    real_read_range = KafkaResource.read_range

    def broker_goes(self, r):
        broker.cut()  # the run has started; its broker is gone before it reads
        return real_read_range(self, r)

    monkeypatch.setattr(KafkaResource, "read_range", broker_goes)
    failed = run_range(assets, selection, resources, requests[-1], instance)
    monkeypatch.undo()
    assert not failed.success
    assert f"KafkaUnavailable: Kafka at 127.0.0.1:{broker.port}" in failure_message(failed)
    assert sorted(p.name for p in day_dir.glob("*.parquet")) == files_before  # nothing landed
    broker.restore()
    assert commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"]) == before

    assert run_range(assets, selection, resources, requests[-1], instance).success
    landed = sum(pyarrow_rows(p) for p in day_dir.glob("*.parquet"))
    assert landed == sum(kafka.end_offsets(OPENAQ_TOPIC).values())
    assert commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"]) == kafka.end_offsets(OPENAQ_TOPIC)


def pyarrow_rows(path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


@pytest.fixture
def warehouse_db():
    """A database of this test's own on the real PostgreSQL: (host, port, user, dbname)."""
    host, port = os.getenv("WAREHOUSE_HOST", "127.0.0.1"), int(os.getenv("WAREHOUSE_PORT", "5432"))
    user, name = os.getenv("WAREHOUSE_USER", "postgres"), f"airstream_faults_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=host, port=port, user=user, dbname="postgres", connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    yield host, port, user, name
    with admin.cursor() as cur:
        cur.execute(f"drop database {name} with (force)")
    admin.close()


def test_warehouse_connection_cut_mid_copy(resources, warehouse_db):
    host, port, user, dbname = warehouse_db
    proxy = TcpProxy(port, host)
    try:
        resources |= with_io_managers(
            {**resources, "warehouse": PostgresWarehouse(host="127.0.0.1", port=proxy.port, user=user, dbname=dbname)}
        )
        direct = PostgresWarehouse(host=host, port=port, user=user, dbname=dbname)
        assets, requests = pull_and_tick(resources, USERS_PULL, USERS_TOPIC, randomuser_users_landing, 60)
        selection = dg.AssetSelection.assets(
            randomuser_users_landing, ["clean", "randomuser_users"], ["clean", "randomuser_users_quarantine"]
        )
        instance = dg.DagsterInstance.ephemeral()
        for request in requests[:-1]:
            assert run_range(assets, selection, resources, request, instance).success
        kafka, lake = resources["kafka"], resources["lake"]
        before = commit_completed(kafka, USERS_TOPIC, instance, resources["lake"])
        rows_before = direct.query("select count(*) from clean.randomuser_users")[0][0]
        clean_dir = lake.partition_dir("clean", "randomuser_users", dg_day())
        version_before = clean_dir.resolve()
        assert rows_before > 0

        proxy.cut_when(b"copy clean.randomuser_users")
        failed = run_range(assets, selection, resources, requests[-1], instance)
        assert proxy.cuts == 1 and not failed.success
        assert "server closed the connection" in failure_message(failed)
        proxy.restore()
        assert commit_completed(kafka, USERS_TOPIC, instance, resources["lake"]) == before
        # The delete and the partial COPY rolled back together; the lake kept its version too.
        assert direct.query("select count(*) from clean.randomuser_users")[0][0] == rows_before
        assert clean_dir.resolve() == version_before

        assert run_range(assets, selection, resources, requests[-1], instance).success
        counts = direct.query("select count(*), count(distinct user_id) from clean.randomuser_users")[0]
        quarantined = direct.query("select count(*) from clean.randomuser_users_quarantine")[0][0]
        raw_rows = sum(
            pyarrow_rows(p) for p in lake.partition_dir("raw", "randomuser_users", dg_day()).glob("*.parquet")
        )
        clean_rows = sum(pyarrow_rows(p) for p in clean_dir.glob("*.parquet"))
        assert counts[0] == counts[1] == clean_rows > rows_before  # every user once, as in the lake
        assert counts[0] + quarantined == raw_rows  # the sample publishes each user once
        assert commit_completed(kafka, USERS_TOPIC, instance, resources["lake"]) == kafka.end_offsets(USERS_TOPIC)
    finally:
        proxy.close()
