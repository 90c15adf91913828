"""Through the Schema Registry (confluent-kafka's in-process mock) on Tansu: produce -> land ->
clean gives the same rows as the plain JSON of the embedded log, and a framed record whose schema
id is unknown, or one without the wire format, is dead-lettered with that reason (issue 9, item 1)."""

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
from pyspark.sql import functions as F

from assets.landing.day import land_whole_day
from assets.openaq_clean import SEEDS_DIR
from assets.topics import OPENAQ_TOPIC
from orchestration.resources.kafka import EmbeddedTopicLogResource, KafkaResource, OffsetRange
from orchestration.resources.lake import LakeResource
from spark.transforms.measurements import clean_measurements, flag_measurements
from spark.transforms.plausibility import read_plausibility

DAY = date(2026, 11, 20)
START = datetime(2026, 11, 20, tzinfo=UTC)


def produce_land_clean(log, spark, root, make_measurement, write_raw=None):
    messages = [
        make_measurement(sensor_id=100 + i % 3, at=START + timedelta(hours=i + 1), value=float(i)) for i in range(12)
    ]
    for i, m in enumerate(messages):  # hourly periods ending at the event time
        begin = (START + timedelta(hours=i)).isoformat().replace("+00:00", "Z")
        m.value["measurement"]["period"]["datetimeFrom"] = {"utc": begin, "local": begin}
    assert log.produce(OPENAQ_TOPIC, messages, "openaq").produced == 12
    if write_raw:  # breaches of the registry's wire format (fine JSON without one)
        plain, stamp = json.dumps(messages[0].value).encode(), int(START.timestamp() * 1000)
        write_raw(log, OPENAQ_TOPIC, "100", plain, stamp)  # no wire format
        write_raw(log, OPENAQ_TOPIC, "101", b"\x00\x00\x00\x03\xe7" + plain, stamp)  # schema id 999
    lake = LakeResource(root=str(root))
    counts = land_whole_day(log, lake, "openaq_measurements", OPENAQ_TOPIC, DAY)
    raw = spark.read.parquet(str(lake.partition_dir("raw", "openaq_measurements", DAY)))
    rules = read_plausibility(spark, SEEDS_DIR)  # the dbt seeds, as the clean step reads them
    clean = clean_measurements(flag_measurements(raw, DAY, rules)).drop("ingested_at")
    return counts, sorted(tuple(r) for r in clean.orderBy(F.col("period_end_utc")).collect()), lake


def test_a_day_lands_and_cleans_the_same_rows_through_the_registry(kafka, spark, tmp_path, make_measurement, write_raw):
    registered = KafkaResource(
        bootstrap_servers=kafka.bootstrap_servers, timeout_seconds=5, schema_registry_url="mock://airstream-landing"
    )
    counts, with_registry, lake = produce_land_clean(registered, spark, tmp_path / "a", make_measurement, write_raw)
    assert (counts["landed"], counts["rejected"]) == (12, 2)
    # The wire format is gone from the landed payloads: each is the JSON text.
    payloads = pq.read_table(lake.partition_dir("raw", "openaq_measurements", DAY)).column("payload").to_pylist()
    assert all(json.loads(p)["location_id"] == 2178 for p in payloads) and len(payloads) == 12
    reasons = sorted(
        pq.read_table(lake.partition_dir("raw", "openaq_measurements_rejected", DAY)).column("reason").to_pylist()
    )
    assert reasons == [
        "registry: bad magic byte (not the Schema Registry wire format)",
        "registry: unknown schema id 999",
    ]
    dlq = OPENAQ_TOPIC + ".dlq"
    dead = [
        r.headers["dlq_reason"]
        for p, end in registered.end_offsets(dlq).items()
        for r in (registered.read_range(OffsetRange(dlq, p, 0, end)) if end else [])
    ]
    assert sorted(dead) == reasons

    # The same day without a registry, on the embedded log: plain JSON payloads.
    plain = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    counts, without, _ = produce_land_clean(plain, spark, tmp_path / "b", make_measurement)
    assert counts["landed"] == 12 and len(with_registry) == 12
    assert with_registry == without
