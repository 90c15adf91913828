"""Sinks fail safely against real servers: MongoDB (SecantusDB) killed mid-write, the
warehouse's PostgreSQL connection cut mid-COPY, the topic broker (Tansu) gone mid-run. Each time
the run fails with a clear error and nothing half-written is visible. Offsets follow the raw
zone: a range that did not land holds its partition back after later successes; a range that
landed is committed past although a step after its landing failed, so that step's day is
rebuilt from the raw zone (automation retries it) and exact counts arrive."""

import os
import uuid

import dagster as dg
import psycopg2
import pymongo
import pytest
from faults import TcpProxy, commit_completed, failure_message, free_port, run_range, start_secantus, start_tansu

from assets.core.rows import LANDED_COLUMNS, landed_documents
from assets.sinks import mongo_openaq_measurements
from assets.stream_landings import landing_of
from assets.streams import OPENAQ, USERS
from assets.topics import OPENAQ_TOPIC, USERS_TOPIC
from orchestration.automation import with_automation
from orchestration.definitions import all_assets
from orchestration.profiles import resources_for, with_io_managers
from orchestration.resources.kafka import KafkaResource
from orchestration.resources.mongo import MongoMeasurementStore, storable
from orchestration.resources.openaq import OpenAQResource
from orchestration.resources.randomuser import RandomUserResource
from orchestration.resources.warehouse import PostgresWarehouse
from orchestration.sensors import evaluate_topic

openaq_measurements_landing = landing_of(OPENAQ)
randomuser_users_landing = landing_of(USERS)

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


def test_mongodb_killed_mid_write_then_automation_brings_the_day(resources, tmp_path, monkeypatch):
    """The platform's own path: sensor runs land the ranges, automation builds the day's sink,
    the server dies mid-write. The committer still commits past the day (the raw zone holds it);
    then only automation ticks, retrying while the server is down and again once it is back,
    until the day's `_id` set in MongoDB is exactly the landed one."""
    port = free_port()
    server = start_secantus(tmp_path / "mongo", port)
    try:
        store = MongoMeasurementStore(
            uri=f"mongodb://127.0.0.1:{port}/", database="faults", timeout_ms=2000, chunk_size=20
        )
        resources["measurement_store"] = store
        _, requests = pull_and_tick(resources, OPENAQ_PULL, OPENAQ_TOPIC, openaq_measurements_landing, 10_000)
        # The real conditions (orchestration/automation.py) on the landing and the sink alone.
        assets = with_automation(
            [openaq_measurements_landing, mongo_openaq_measurements], [openaq_measurements_landing]
        )
        defs = dg.Definitions(assets=assets, resources=resources)
        instance = dg.DagsterInstance.ephemeral()
        automation = Automation(defs, instance)
        assert automation.tick() == []  # a condition's first evaluation records where things stand
        landing_only = dg.AssetSelection.assets(openaq_measurements_landing)  # what a sensor run selects
        for request in requests:
            assert run_range(assets, landing_only, resources, request, instance).success
        kafka, lake = resources["kafka"], resources["lake"]
        landed = {}
        for batch in lake.read_days("raw", "openaq_measurements", [dg_day()]).batches(dg_day(), LANDED_COLUMNS):
            landed |= {d["_id"]: d["raw"] for d in storable(landed_documents(batch.to_pydict()))[0]}
        assert len(landed) > 2 * store.chunk_size

        # The server dies between two bulk writes of the automated sink run.
        real_bulk_write, calls = pymongo.collection.Collection.bulk_write, []

        def dies_after_one_chunk(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                server.kill()
                server.wait()
            return real_bulk_write(self, *args, **kwargs)

        monkeypatch.setattr(pymongo.collection.Collection, "bulk_write", dies_after_one_chunk)
        [failed] = automation.tick()
        monkeypatch.undo()
        assert not failed.success and failed.dagster_run.tags["dagster/partition"] == DAY
        # A pooled connection reads "connection closed", a new one "Connection refused": both
        # pymongo ConnectionFailures that name the server.
        message = failure_message(failed)
        assert f"127.0.0.1:{port}" in message
        assert "pymongo.errors.AutoReconnect" in message or "pymongo.errors.ServerSelectionTimeoutError" in message
        # Offsets follow the raw zone, which holds every range: the landing runs' successes
        # commit the topic to its end although the day is not in MongoDB. The sink's source
        # is the raw zone, not the topic, so only a rebuild of the day can bring the rest.
        assert commit_completed(kafka, OPENAQ_TOPIC, instance, lake) == kafka.end_offsets(OPENAQ_TOPIC)

        # Left to itself: the next tick retries the failed day, which fails again while the
        # server is down, and the tick after that retries it again.
        [retried_while_down] = automation.tick()
        assert not retried_while_down.success and retried_while_down.dagster_run.tags["dagster/partition"] == DAY
        assert "ServerSelectionTimeoutError" in failure_message(retried_while_down)

        server = start_secantus(tmp_path / "mongo", port)  # back, with what it had written
        with pymongo.MongoClient(store.uri) as client:
            visible = {d["_id"]: d["raw"] for d in client["faults"][store.collection].find()}
        # Upserts are per document: what is there is whole and exactly as landed, never torn;
        # and the fault left documents of the day out.
        assert 0 < len(visible) < len(landed)
        assert all(raw == landed[_id] for _id, raw in visible.items())

        [recovered] = automation.tick()
        assert recovered.success and recovered.dagster_run.tags["dagster/partition"] == DAY
        assert automation.tick() == []  # built: nothing more is requested
        with pymongo.MongoClient(store.uri) as client:
            ids = [d["_id"] for d in client["faults"][store.collection].find({}, {"_id": 1})]
        assert sorted(ids) == sorted(landed)  # every landed document of the day, each once
        assert store.count() == len(landed)
    finally:
        server.kill()
        server.wait()


class Automation:
    """The automation sensor's ticks, each followed by the runs it requests (one per day)."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self) -> list[dg.ExecuteInProcessResult]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        days: dict[str, set[dg.AssetKey]] = {}
        for key in {r.key for r in result.results if isinstance(r.key, dg.AssetKey)}:
            for day in result.get_requested_partitions(key):
                days.setdefault(day, set()).add(key)
        return [
            dg.materialize(
                list(self.defs.assets),
                selection=dg.AssetSelection.assets(*keys),
                resources=self.defs.resources,
                partition_key=day,
                instance=self.instance,
                raise_on_error=False,
            )
            for day, keys in sorted(days.items())
        ]


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
    # A success after the failure (a replay of a landed range), so the committer acts: it
    # commits nothing past the range that did not land.
    assert run_range(assets, selection, resources, requests[0], instance).success
    [unlanded] = requests[-1].run_config["ops"][openaq_measurements_landing.op.name]["config"]["ranges"]
    committed = commit_completed(kafka, OPENAQ_TOPIC, instance, resources["lake"])
    assert committed == before and committed[unlanded["partition"]] == unlanded["start"]

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
        rows_before = direct.query("select count(*) from clean.randomuser_users")[0][0]
        clean_dir = lake.partition_dir("clean", "randomuser_users", dg_day())
        version_before = clean_dir.resolve()
        assert rows_before > 0

        proxy.cut_when(b"copy clean.randomuser_users")
        failed = run_range(assets, selection, resources, requests[-1], instance)
        assert proxy.cuts == 1 and not failed.success
        assert "server closed the connection" in failure_message(failed)
        proxy.restore()
        # The delete and the partial COPY rolled back together; the lake kept its version too.
        assert direct.query("select count(*) from clean.randomuser_users")[0][0] == rows_before
        assert clean_dir.resolve() == version_before
        # The failed run's range had landed before its clean step failed, and offsets follow
        # the raw zone: the next success commits past it. That success here is another range
        # of the day (a replay of the first): its clean step rebuilds the whole day from the
        # raw zone, the failed range's users with it.
        assert run_range(assets, selection, resources, requests[0], instance).success
        assert commit_completed(kafka, USERS_TOPIC, instance, lake) == kafka.end_offsets(USERS_TOPIC)
        counts = direct.query("select count(*), count(distinct user_id) from clean.randomuser_users")[0]
        quarantined = direct.query("select count(*) from clean.randomuser_users_quarantine")[0][0]
        raw_rows = sum(
            pyarrow_rows(p) for p in lake.partition_dir("raw", "randomuser_users", dg_day()).glob("*.parquet")
        )
        clean_rows = sum(pyarrow_rows(p) for p in clean_dir.glob("*.parquet"))
        assert counts[0] == counts[1] == clean_rows > rows_before  # every user once, as in the lake
        assert counts[0] + quarantined == raw_rows  # the sample publishes each user once
    finally:
        proxy.close()
