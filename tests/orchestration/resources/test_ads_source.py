"""The ad events source: the sample day's volumes and quirks, the live switch, NDJSON lines,
and the messages the pull publishes (contract, key, day)."""

import json
import re
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from assets.ads_events import ad_event_messages, message_time
from assets.core.contracts import contract_for
from orchestration.resources.ads import AdEventsError, AdEventsResource, order_campaign, parse_ndjson_lines

DAY = date(2026, 11, 20)
START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def events():
    return list(AdEventsResource(mode="sample").fetch_events(DAY))


def test_the_sample_is_seeded_by_the_day(events):
    assert list(AdEventsResource(mode="sample").fetch_events(DAY)) == events
    assert list(AdEventsResource(mode="sample").fetch_events(date(2026, 11, 21)))[:100] != events[:100]


def test_the_sample_has_realistic_volumes(events):
    kinds = Counter(e.get("event_type") for e in events)
    assert 18_000 <= kinds["impression"] <= 22_000
    assert 0.015 <= kinds["click"] / kinds["impression"] <= 0.025
    assert 0.02 <= kinds["conversion"] / kinds["click"] <= 0.09
    assert {e["campaign_id"] for e in events if e.get("event_type") == "impression"} >= {f"C00{i}" for i in range(1, 9)}


def test_the_sample_has_one_of_each_quirk(events):
    ids = Counter(e.get("event_id") for e in events)
    duplicated = [i for i, n in ids.items() if n > 1 and i is not None]
    assert len(duplicated) == 1
    copies = [e for e in events if e.get("event_id") == duplicated[0]]
    assert copies[0] == copies[1]
    assert sum(str(e["ts"]).startswith("2026-11-19") for e in events) == 1  # late
    invalid = [e for e in events if contract_for("ads.events").error(e) is not None]
    assert len(invalid) == 1 and "event_id" not in invalid[0]
    assert sum(isinstance(e.get("cost"), float) and e["cost"] < 0 for e in events) == 1
    assert Counter(e.get("event_type") for e in events)["view"] == 1
    assert sum(e.get("campaign_id") is None for e in events) == 1
    assert sum(e.get("campaign_id") == "C999" for e in events) == 1


def test_conversions_name_the_shops_orders_of_the_day(events):
    conversions = [e for e in events if e.get("event_type") == "conversion"]
    numbers = []
    for e in conversions:
        match = re.fullmatch(r"O-20261120-(\d{5})", e["order_id"])
        assert match, e
        numbers.append(int(match[1]))
    matching = [(n, e) for n, e in zip(numbers, conversions, strict=True) if n <= 300]
    assert all(e["campaign_id"] == order_campaign(n) for n, e in matching)
    assert len({n for n, _ in matching}) == len(matching)  # an order converts once
    assert len(matching) >= 0.8 * len(conversions) and len(matching) < len(conversions)
    assert all(e["revenue"] > 0 for e in conversions)
    assert all("order_id" not in e for e in events if e.get("event_type") != "conversion")


def test_live_mode_needs_an_endpoint():
    with pytest.raises(AdEventsError, match="ADS_EVENTS_URL"):
        list(AdEventsResource(mode="live").fetch_events(DAY))
    with pytest.raises(AdEventsError, match="mode"):
        list(AdEventsResource(mode="replay").fetch_events(DAY))


def test_ndjson_lines_that_are_not_objects_are_passed_on_to_be_dead_lettered():
    good = {"event_id": "E1", "event_type": "click", "ts": "2026-11-20T10:00:00Z", "cost": 0.4, "revenue": 0}
    parsed = list(parse_ndjson_lines(iter([json.dumps(good), "", "{oops", "[1, 2]"])))
    assert parsed == [good, {"unparseable_line": "{oops"}, {"unparseable_line": "[1, 2]"}]
    assert contract_for("ads.events").error(parsed[1]) is not None


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-20T10:00:00.000Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T11:00:00+01:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-19T23:53:00.000Z", START),  # late: published with, and landed in, its pull day
        ("2026-11-21T00:00:00Z", START),
        ("2026-11-20 25:61", START),
        ("2026-11-20T10:00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),  # no offset: UTC, as the clean step reads it
    ],
)
def test_a_message_belongs_to_its_pull_day(ts, expected):
    assert message_time({"ts": ts}, START) == expected


def test_messages_are_keyed_by_campaign(events):
    messages = list(ad_event_messages(events[:3] + [{"event_id": "x", "campaign_id": None}], START))
    assert [m.key for m in messages] == [e["campaign_id"] for e in events[:3]] + [""]
    assert all(m.event_time.date() == DAY for m in messages)


def test_the_shop_sample_exported_the_orders_the_ad_conversions_name(events):
    from orchestration.resources.ecommerce.sample import order_rows

    # The two samples meet in agg_campaign_daily: a conversion is attributed when the shop's
    # export has its order under the same campaign.
    exported = {row[0]: row[12] for row in order_rows(DAY)}
    conversions = [e for e in events if e.get("event_type") == "conversion" and e.get("order_id")]
    matched = [e for e in conversions if exported.get(e["order_id"]) == e["campaign_id"]]
    unknown = [e for e in conversions if e["order_id"] not in exported]
    assert matched and unknown
    assert len(matched) + len(unknown) == len(conversions)
