"""The stream descriptors (assets/streams.py): the keys each derives, and the catalogue facts
every asset of a stream carries in the code location."""

import dagster as dg
import pytest

from assets.streams import ADS, OPENAQ, STREAMS, USERS
from orchestration.definitions import build_definitions
from spark.schemas.clean_ads import CLEAN_ADS
from spark.schemas.clean_measurements import CLEAN_MEASUREMENTS
from spark.schemas.clean_users import CLEAN_USERS
from spark.schemas.columns import names
from spark.transforms import measurements, users
from spark.transforms.ecommerce import ads


def test_a_descriptor_derives_every_key_of_its_stream():
    assert [str(k.to_user_string()) for k in ADS.keys()] == [
        "api/ads_events",
        "kafka/ads_events",
        "raw/ads_events",
        "clean/ads_events",
        "clean/ads_events_quarantine",
        "kafka/ads_events_committed",
    ]
    assert ADS.rejected_key == dg.AssetKey(["raw", "ads_events_rejected"])
    assert ADS.contract.topic == "ads.events" and ADS.contract.version == 1
    assert [s.topic for s in STREAMS] == ["openaq.measurements", "randomuser.users", "ads.events"]


def test_the_clean_column_schema_is_the_contract_the_transform_selects():
    # The descriptor references the contract, never a copy; tests/spark/ hold each transform's
    # output schema (names, order, Spark types) equal to the same contract.
    for stream, contract, transform in [
        (OPENAQ, CLEAN_MEASUREMENTS, measurements),
        (USERS, CLEAN_USERS, users),
        (ADS, CLEAN_ADS, ads),
    ]:
        assert stream.columns is contract, stream.name
        assert tuple(transform.CLEAN_COLUMNS) == names(contract), stream.name


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield build_definitions("local").resolve_asset_graph()


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.name)
def test_every_asset_of_a_stream_carries_its_owner_and_group(graph, stream):
    for key in stream.keys():
        node = graph.get(key)
        assert node.owners == [stream.owner], key
        assert node.group_name == stream.group, key


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.name)
def test_raw_and_clean_tables_carry_their_column_schema_and_the_clean_its_freshness(graph, stream):
    raw = graph.get(stream.raw_key).metadata["dagster/column_schema"]
    assert [c.name for c in raw.columns][:3] == ["kafka_topic", "kafka_partition", "kafka_offset"]
    clean = graph.get(stream.clean_key)
    shown = [(c.name, c.type, c.description) for c in clean.metadata["dagster/column_schema"].columns]
    assert shown == [(c.name, c.type, c.description or None) for c in stream.columns]
    assert len(shown) == {"openaq": 14, "users": 29, "ads": 11}[stream.name]
    policy = clean.freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    assert (policy.deadline_cron, policy.lower_bound_delta.total_seconds()) == (stream.fresh_by, 24 * 3600)
