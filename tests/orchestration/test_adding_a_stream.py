"""Adding a Kafka stream is a descriptor (with its topic's contract), a source adapter, a clean
transform (with its clean table's contract) and its asset module, and its dbt model: no list of streams to extend anywhere else.

The test copies the project, adds exactly those files (and the descriptor to assets/streams.py),
and materializes one day of the new stream from the copy with the real CLI, in one run: the
source publishes five known messages, the landing lands them, the clean step keeps three (one
is a re-sent reading, one has no value), the commit step commits the topic, the loss accounting
balances, and dbt reads the clean rows.
"""

import json
from pathlib import Path

import duckdb
import pytest

from tests.orchestration.project_copy import BIN, ROOT, copy_project, materialize, run, tracked_files

DAY = "2026-11-20"

DESCRIPTOR = """
from spark.schemas.clean_weather import CLEAN_WEATHER

WEATHER = Stream(
    name="weather",
    topic="weather.readings",
    table="weather_readings",
    group="weather",
    description="Weather readings of the day as received from `weather.readings`, with their Kafka coordinates.",
    columns=CLEAN_WEATHER,
)
STREAMS = (*STREAMS, WEATHER)
"""

CONTRACT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:airstream:contract:weather.readings:v1",
    "title": "weather.readings v1",
    "type": "object",
    "required": ["reading_id", "station", "celsius"],
    "properties": {
        "reading_id": {"type": "string", "minLength": 1},
        "station": {"type": "string"},
        "celsius": {"type": ["number", "null"]},
    },
}

SOURCE = '''
"""The weather source: a fixed day of readings, published to the stream's topic."""

import dagster as dg

from assets.core.days import day_window
from assets.core.stream import TopicLog, TopicMessage
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake
from assets.producers import publish_metadata, published
from assets.publish_ledger import publish_new
from assets.streams import WEATHER
from assets.topics import topic_spec

READINGS = [
    {"reading_id": "r1", "station": "oslo", "celsius": -3.5},
    {"reading_id": "r2", "station": "rome", "celsius": 14.0},
    {"reading_id": "r3", "station": "lima", "celsius": 19.25},
    {"reading_id": "r1", "station": "oslo", "celsius": -3.5, "resent": True},
    {"reading_id": "r4", "station": "nuuk", "celsius": None},
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(WEATHER.pull_key, description="The day's weather readings.", group_name=WEATHER.group),
        topic_spec(WEATHER.topic, WEATHER.pull_key, WEATHER.group, "one message per reading, keyed by station."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def weather_pull(context: dg.AssetExecutionContext, kafka: dg.ResourceParam[TopicLog], lake: dg.ResourceParam[Lake]):
    per_day = {}
    for day in partition_days(context):
        start, _ = day_window(day)
        messages = (TopicMessage(key=r["station"], value=r, event_time=start) for r in READINGS)
        result, already, _ = publish_new(kafka, lake, WEATHER.topic, day, messages, "weather")
        per_day[day.isoformat()] = publish_metadata(result, {"already_published": already})
    yield from published(WEATHER.pull_key, WEATHER.topic, "fixed", per_day)
'''

CLEAN_CONTRACT = '''
"""The clean weather readings contract."""

from spark.schemas.columns import Column

CLEAN_WEATHER = (
    Column("reading_id", "string", "One row per reading id."),
    Column("station", "string"),
    Column("celsius", "double"),
    Column("read_on", "date", "The pull day."),
)
'''

TRANSFORM = '''
"""Weather readings: one per reading id; a reading without a value is quarantined."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark.schemas.clean_weather import CLEAN_WEATHER
from spark.schemas.columns import names
from spark.transforms.days import DAY, Day, with_day

READING = T.StructType(
    [T.StructField("reading_id", T.StringType()), T.StructField("station", T.StringType()), T.StructField("celsius", T.DoubleType())]
)
CLEAN_KEY = ("reading_id",)
QUARANTINE_KEY = ("payload",)


def flag_readings(raw: DataFrame, day: Day) -> DataFrame:
    doc = F.from_json("payload", READING)
    return with_day(raw, day).select(
        DAY,
        "payload",
        doc["reading_id"].alias("reading_id"),
        doc["station"].alias("station"),
        doc["celsius"].alias("celsius"),
        F.lit(day).alias("read_on"),
        F.when(doc["celsius"].isNull(), F.lit("missing_celsius")).alias("reason"),
    )


def keep_readings(flagged: DataFrame) -> DataFrame:
    return flagged.where("reason is null").dropDuplicates([DAY, *CLEAN_KEY]).select(*names(CLEAN_WEATHER))


def reject_readings(flagged: DataFrame, day: Day) -> DataFrame:
    rejected = flagged.where("reason is not null").dropDuplicates([DAY, *QUARANTINE_KEY])
    return rejected.select("payload", "reason", F.lit(day).alias("partition_day"))
'''

ASSET_MODULE = '''
"""Clean weather readings, from the stream's descriptor."""

from assets.clean_zone import CleanStep, clean_asset
from assets.streams import WEATHER
from spark.transforms.weather import CLEAN_KEY, QUARANTINE_KEY, flag_readings, keep_readings, reject_readings

READINGS_STEP = CleanStep.of(
    WEATHER,
    flag=flag_readings,
    keep=keep_readings,
    reject=reject_readings,
    partition_column="read_on",
    clean_key=CLEAN_KEY,
    quarantine_key=QUARANTINE_KEY,
)

weather_clean = clean_asset(
    READINGS_STEP, WEATHER.clean_step_name, WEATHER.group, ("One row per reading id.", "Readings without a value.")
)
'''

MODEL_SQL = """
select
    cast(reading_id as varchar) as reading_id,
    cast(station as varchar) as station,
    cast(celsius as double) as celsius,
    cast(read_on as date) as read_on
from {{ source('clean', 'weather_readings') }}
"""

MODEL_YML = """
version: 2

sources:
  - name: clean
    schema: clean
    tables:
      - name: weather_readings

models:
  - name: stg_weather__readings
    description: Weather readings, one per reading id.
    config:
      tags: [weather]
    columns:
      - name: reading_id
        data_tests: [unique, not_null]
"""

NEW_FILES = {
    "assets/core/contracts/weather.readings.v1.json": json.dumps(CONTRACT, indent=2),
    "assets/weather_pull.py": SOURCE,
    "spark/schemas/clean_weather.py": CLEAN_CONTRACT,
    "spark/transforms/weather.py": TRANSFORM,
    "assets/weather_clean.py": ASSET_MODULE,
    "dbt/models/staging/stg_weather__readings.sql": MODEL_SQL,
    "dbt/models/staging/stg_weather__readings.yml": MODEL_YML,
}
DESCRIPTORS = "assets/streams.py"

SELECTION = [
    "api/weather_readings",
    "kafka/weather_readings",
    "raw/weather_readings",
    "clean/weather_readings",
    "clean/weather_readings_quarantine",
    "staging/stg_weather__readings",
    "kafka/weather_readings_committed",
]

# Read in the copy after the run: the code location's view of the stream and what the run recorded.
REPORT = """
import json, warnings
import dagster as dg
from orchestration.definitions import defs
from orchestration.held_back import TOPICS
from orchestration.committer import RAW_TABLES
from orchestration.serving.exporter import TOPICS as EXPORTED
from assets.dbt_models import FLOWS

graph = defs.resolve_asset_graph()
key = lambda s: dg.AssetKey(s.split("/"))
instance = dg.DagsterInstance.get()
def metadata(k):
    event = instance.get_latest_materialization_event(key(k))
    return {n: v.value for n, v in event.asset_materialization.metadata.items()}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    records = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))
checks = {}
for r in records:
    e = r.event_log_entry.dagster_event.event_specific_data
    checks[(e.asset_key.to_user_string(), e.check_name)] = (e.passed, {n: v.value for n, v in e.metadata.items()})
passed, accounts = checks[("clean/weather_readings", "messages_accounted_for")]
print(json.dumps({
    "committed_parents": sorted(k.to_user_string() for k in graph.get(key("kafka/weather_readings_committed")).parent_keys),
    "sensor": "weather_readings_sensor" in {s.name for s in defs.sensors},
    "group": graph.get(key("staging/stg_weather__readings")).group_name,
    "owner": graph.get(key("clean/weather_readings")).owners,
    "fresh": graph.get(key("clean/weather_readings")).freshness_policy is not None,
    "listed": ["weather.readings" in TOPICS, RAW_TABLES.get("weather.readings"), "weather.readings" in EXPORTED, "weather" in FLOWS],
    "pulled": metadata("api/weather_readings")["messages_written"],
    "landed": metadata("raw/weather_readings")["dagster/row_count"],
    "committed": metadata("kafka/weather_readings_committed")["committed_offsets"],
    "lag": metadata("kafka/weather_readings_committed")["consumer_lag"],
    "accounted": passed,
    "accounts": {t: accounts[t] for t in ("topic_messages", "landed", "dead_lettered", "clean_rows", "quarantined_rows", "duplicates")},
}))
"""


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    copy = copy_project(tmp_path_factory.mktemp("project"), NEW_FILES)
    with (copy / DESCRIPTORS).open("a") as descriptors:
        descriptors.write(DESCRIPTOR)
    return copy


@pytest.fixture(scope="module")
def materialized(project_copy: Path) -> Path:
    return materialize(project_copy, SELECTION, DAY)


@pytest.fixture(scope="module")
def report(materialized: Path) -> dict:
    return json.loads(run([str(BIN / "python"), "-c", REPORT], materialized).stdout.strip().splitlines()[-1])


def test_the_copy_differs_from_the_project_by_the_new_files_and_the_descriptor(project_copy: Path):
    added = {str(p.relative_to(project_copy)) for p in project_copy.rglob("*") if p.is_file()}
    assert added - set(tracked_files()) == set(NEW_FILES)
    original = (ROOT / DESCRIPTORS).read_text()
    assert (project_copy / DESCRIPTORS).read_text() == original + DESCRIPTOR


def test_every_list_of_streams_has_the_new_one(report: dict):
    assert report["listed"] == [True, "weather_readings", True, True]
    assert report["sensor"] and report["fresh"]
    assert report["group"] == "weather" and report["owner"] == ["team:data-platform"]
    assert report["committed_parents"] == ["clean/weather_readings_quarantine", "staging/stg_weather__readings"]


def test_the_day_lands_cleans_commits_and_balances(report: dict):
    assert report["pulled"] == 5
    assert report["landed"] == 5
    assert sum(report["committed"].values()) == 5 and report["lag"] == 0
    assert report["accounted"] is True
    assert report["accounts"] == {
        "topic_messages": 5,
        "landed": 5,
        "dead_lettered": 0,
        "clean_rows": 3,
        "quarantined_rows": 1,
        "duplicates": 1,
    }


def test_dbt_reads_the_clean_rows(materialized: Path):
    with duckdb.connect(str(materialized / "data" / "warehouse.duckdb"), read_only=True) as db:
        staged = db.execute(
            "select reading_id, station, celsius, read_on::varchar from staging.stg_weather__readings order by reading_id"
        ).fetchall()
    assert staged == [("r1", "oslo", -3.5, DAY), ("r2", "rome", 14.0, DAY), ("r3", "lima", 19.25, DAY)]
