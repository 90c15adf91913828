"""The ad stream's pull and landing in process, on the embedded topic log and a real lake:
every sample event is published or dead-lettered, the late one lands in its pull day, and the
landing's whole-day run and the commit rule leave no lag."""

import json
from datetime import date

import dagster as dg
import pyarrow.dataset as pa_ds

from assets.ads_events import ads_events_pull
from assets.core.stream import OffsetRange
from assets.offsets import commit_landed
from assets.stream_landings import landing_of
from assets.streams import ADS
from assets.topics import ADS_TOPIC
from orchestration.resources.ads import AdEventsResource, sample_events
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource

ads_events_landing = landing_of(ADS)

DAY = date(2026, 11, 20)


def test_a_sample_day_is_published_landed_and_committed(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    result = dg.materialize(
        [ads_events_pull, ads_events_landing],
        partition_key=DAY.isoformat(),
        resources={"ads": AdEventsResource(mode="sample"), "lake": lake, "kafka": kafka},
    )
    assert result.success
    served = list(sample_events(DAY))
    published = sum(kafka.end_offsets(ADS_TOPIC).values())
    dlq = ADS_TOPIC + ".dlq"
    dead = [r for p, end in kafka.end_offsets(dlq).items() for r in kafka.read_range(OffsetRange(dlq, p, 0, end))]
    assert published + len(dead) == len(served) and len(dead) == 1
    assert "event_id" in dead[0].headers["dlq_reason"]

    landed = pa_ds.dataset(str(lake.partition_dir("raw", "ads_events", DAY)), format="parquet").to_table()
    assert landed.num_rows == published
    payloads = [json.loads(p) for p in landed.column("payload").to_pylist()]
    assert sum(p["ts"].startswith("2026-11-19") for p in payloads) == 1  # the late event, in its pull day
    keys = landed.column("kafka_key").to_pylist()
    assert keys == [p["campaign_id"] or "" for p in payloads]  # keyed by campaign, "" when missing

    committed = commit_landed(kafka, lake, "ads_events", ADS_TOPIC)
    assert committed == kafka.end_offsets(ADS_TOPIC)  # lag 0


def test_a_re_run_of_the_day_publishes_only_what_is_new(tmp_path):
    """Issue 25, item 11: re-running the sample day adds nothing to the topic, the DLQ or the
    raw zone; the landing still finds every message it landed the first time."""
    lake = LakeResource(root=str(tmp_path))
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    resources = {"ads": AdEventsResource(mode="sample"), "lake": lake, "kafka": kafka}
    sizes = []
    for _ in range(2):
        result = dg.materialize(
            [ads_events_pull, ads_events_landing], partition_key=DAY.isoformat(), resources=resources
        )
        assert result.success
        raw = pa_ds.dataset(str(lake.partition_dir("raw", "ads_events", DAY)), format="parquet").count_rows()
        sizes.append((kafka.topic_size(ADS_TOPIC), kafka.topic_size(ADS_TOPIC + ".dlq"), raw))
    published = len(list(sample_events(DAY))) - 1  # one sample event is dead-lettered
    assert sizes == [(published, 1, published), (published, 1, published)]
    assert commit_landed(kafka, lake, "ads_events", ADS_TOPIC) == kafka.end_offsets(ADS_TOPIC)
