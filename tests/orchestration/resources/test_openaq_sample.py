"""The sample client: deterministic, v3-shaped, paged, lazy, and with quirks to quarantine."""

import json
import logging
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.resources.openaq import (
    OpenAQResource,
    SampleOpenAQClient,
    is_last_page,
    parse_locations_page,
    parse_measurement_page,
    sensors_of,
)
from orchestration.resources.openaq.sample import PARAMETERS, SENTINELS, has_two_pm25_sensors

DAY = datetime(2026, 11, 20, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)


def all_sensors(client):
    return [ref for location in client.list_locations() for ref in sensors_of(location)]


def day_rows(client, sensors, start=DAY, days=1):
    return [
        row
        for sensor in sensors
        for page in client.iter_measurement_pages(sensor, start, start + timedelta(days=days))
        for row in page.results
    ]


def test_same_day_gives_identical_pages_from_fresh_clients():
    first, second = SampleOpenAQClient(), SampleOpenAQClient()
    for sensor in all_sensors(first)[:10]:
        assert list(first.iter_measurement_pages(sensor, DAY, NEXT_DAY)) == list(
            second.iter_measurement_pages(sensor, DAY, NEXT_DAY)
        )


def test_different_days_give_different_values():
    client = SampleOpenAQClient(bad_row_ratio=0)
    sensors = all_sensors(client)[:10]
    today = [row["value"] for row in day_rows(client, sensors)]
    tomorrow = [row["value"] for row in day_rows(client, sensors, start=NEXT_DAY)]
    assert len(today) == len(tomorrow) == 240
    assert sum(a != b for a, b in zip(today, tomorrow, strict=False)) > 200


def test_catalogue_is_stable_and_sized():
    first = SampleOpenAQClient(locations=20).list_locations()
    first[0]["name"] = "mutated by a caller"
    again = SampleOpenAQClient(locations=20).list_locations()
    assert again[0]["name"] != "mutated by a caller"
    assert again[1:] == first[1:]
    assert [loc["id"] for loc in again] == sorted({loc["id"] for loc in again}) and len(again) == 20
    assert len({loc["country"]["code"] for loc in again}) >= 4
    assert all(2 <= len(loc["sensors"]) <= 6 for loc in again)
    assert len({s["id"] for loc in again for s in loc["sensors"]}) == sum(len(loc["sensors"]) for loc in again)


def test_catalogue_round_trips_through_the_v3_parser():
    locations = SampleOpenAQClient(locations=50).list_locations()
    parsed, found = parse_locations_page(json.dumps({"meta": {"found": 50}, "results": locations}))
    assert (parsed, found) == (locations, 50)
    for location in locations:
        for sensor, ref in zip(location["sensors"], sensors_of(location), strict=False):
            name, units = PARAMETERS[ref.parameter_id][:2]
            assert sensor["parameter"] == {"id": ref.parameter_id, "name": name, "units": units, "displayName": None}
    assert any(loc["locality"] is None for loc in locations)
    assert any(loc["coordinates"] is None for loc in locations)


def test_selected_location_ids_only():
    client = SampleOpenAQClient(location_ids=[10_007, 10_003, 10_007])
    assert [loc["id"] for loc in client.list_locations()] == [10_003, 10_007]


def test_rows_have_the_v3_shape_and_round_trip_through_the_parser():
    client = SampleOpenAQClient(locations=20, bad_row_ratio=0)
    for sensor in all_sensors(client):
        for page in client.iter_measurement_pages(sensor, DAY, NEXT_DAY):
            body = json.dumps({"meta": {"found": page.found}, "results": page.results}).encode()
            assert parse_measurement_page(body, sensor, page.page) == page
            for index, row in enumerate(page.results):
                assert set(row) == {"value", "flagInfo", "parameter", "period", "coordinates", "summary", "coverage"}
                assert row["parameter"]["id"] == sensor.parameter_id and row["parameter"]["displayName"] is None
                assert row["summary"] is None and isinstance(row["value"], float)
                period = row["period"]
                assert (period["label"], period["interval"]) == ("raw", "01:00:00")
                utc_from, utc_to = (datetime.fromisoformat(period[k]["utc"]) for k in ("datetimeFrom", "datetimeTo"))
                assert utc_to - utc_from == timedelta(hours=1)
                assert datetime.fromisoformat(period["datetimeTo"]["local"]) == utc_to
                assert period["datetimeTo"]["utc"].endswith("Z" if index % 2 == 0 else "+00:00")
                assert row["coverage"]["datetimeTo"] == period["datetimeTo"]


def test_every_period_ends_inside_the_window():
    client = SampleOpenAQClient(locations=5, interval_minutes=7, bad_row_ratio=0.05)
    start, end = DAY + timedelta(hours=3), DAY + timedelta(hours=9, minutes=5)
    rows = day_rows(client, all_sensors(client), start=start, days=(end - start) / timedelta(days=1))
    ends = [datetime.fromisoformat(row["period"]["datetimeTo"]["utc"]) for row in rows if "period" in row]
    assert ends and all(start < moment <= end for moment in ends)


@pytest.mark.parametrize(
    ("interval", "limit", "sizes"), [(1, 100, [100] * 14 + [40]), (60, 24, [24, 0]), (60, 5, [5] * 4 + [4])]
)
def test_paging_honours_page_limit(interval, limit, sizes):
    client = SampleOpenAQClient(interval_minutes=interval, page_limit=limit, bad_row_ratio=0)
    pages = list(client.iter_measurement_pages(all_sensors(client)[0], DAY, NEXT_DAY))
    assert [len(page.results) for page in pages] == sizes
    assert [page.page for page in pages] == list(range(1, len(sizes) + 1))
    assert [is_last_page(page, limit) for page in pages] == [False] * (len(sizes) - 1) + [True]
    assert pages[-1].found == sum(sizes) and all(page.found == limit for page in pages[:-1])


def test_quirks_appear_at_about_the_configured_ratio():
    ratio = 0.02
    client = SampleOpenAQClient(locations=10, interval_minutes=1, bad_row_ratio=ratio)
    rows = day_rows(client, all_sensors(client))
    periods = len(rows) - sum(a == b for a, b in zip(rows, rows[1:], strict=False))
    counts = {
        "null": sum(row["value"] is None for row in rows),
        "sentinel": sum(row["value"] in SENTINELS for row in rows),
        "string": sum(isinstance(row["value"], str) for row in rows),
        "no_period": sum("period" not in row for row in rows),
        "duplicate": sum(a == b and "period" in a for a, b in zip(rows, rows[1:], strict=False)),
        "implausible": sum(row["value"] in (-2.5, 104.0, 85.0) for row in rows),
    }
    expected = periods * ratio / len(counts)
    assert all(0.6 * expected < count < 1.4 * expected for count in counts.values()), (expected, counts)


def test_default_ratio_is_rare_but_present():
    client = SampleOpenAQClient(locations=10, interval_minutes=1)  # bad_row_ratio=0.002
    rows = day_rows(client, all_sensors(client))
    odd = sum(
        not isinstance(row["value"], float) or row["value"] in (*SENTINELS, -2.5, 104.0, 85.0) or "period" not in row
        for row in rows
    )
    odd += sum(a == b for a, b in zip(rows, rows[1:], strict=False))
    assert 0.7 * 0.002 < odd / len(rows) < 1.3 * 0.002


def test_no_quirks_at_ratio_zero():
    client = SampleOpenAQClient(locations=5, interval_minutes=5, bad_row_ratio=0)
    for sensor in all_sensors(client):
        rows = day_rows(client, [sensor])
        assert len(rows) == 288 and all(isinstance(row["value"], float) for row in rows)
        assert len({row["period"]["datetimeFrom"]["utc"] for row in rows}) == 288


def test_values_are_plausible():
    client = SampleOpenAQClient(locations=60, bad_row_ratio=0)
    sensors = all_sensors(client)
    pm25 = [s for s in sensors if s.parameter_id == 2]
    day_means = [
        statistics.mean(r["value"] for r in day_rows(client, [s], start=DAY + timedelta(days=d)))
        for s in pm25[:20]
        for d in range(5)
    ]
    assert 0.1 < sum(mean > 15 for mean in day_means) / len(day_means) < 0.9
    values = [r["value"] for r in day_rows(client, pm25)]
    assert 3 < statistics.median(values) < 60 and min(values) > 0
    january = datetime(2026, 1, 15, tzinfo=UTC)
    temperatures = [r["value"] for r in day_rows(client, [s for s in sensors if s.parameter_id == 100], january)]
    assert min(temperatures) < 0 < max(temperatures)
    humidity = [r["value"] for r in day_rows(client, [s for s in sensors if s.parameter_id == 98])]
    assert humidity and 0 < min(humidity) and max(humidity) <= 100
    ppm_no2 = [r["value"] for r in day_rows(client, [s for s in sensors if s.parameter_id == 7])]
    assert ppm_no2 and max(ppm_no2) < 1  # ppm, not µg/m³: same name, other parameter id


def test_naive_window_is_refused():
    client = SampleOpenAQClient()
    with pytest.raises(ValueError, match="timezone-aware"):
        next(client.iter_measurement_pages(all_sensors(client)[0], datetime(2026, 11, 20), NEXT_DAY))


def test_generation_is_lazy():
    client = SampleOpenAQClient(interval_minutes=1, page_limit=1000)
    pages = client.iter_measurement_pages(all_sensors(client)[0], DAY, DAY + timedelta(days=3650))
    assert len(next(pages).results) == 1000  # a decade of minutes would not fit in the test's time


def test_resource_sample_mode_says_so_loudly(caplog):
    resource = OpenAQResource(sample_locations=3, measurements_path="hours", sample_interval_minutes=5)
    with caplog.at_level(logging.WARNING), resource.get_client() as client:
        assert client.mode == "sample"
        assert len(client.list_locations()) == 3
        row = next(client.iter_measurement_pages(all_sensors(client)[0], DAY, NEXT_DAY)).results[0]
    assert (row["period"]["label"], row["period"]["interval"]) == ("1hour", "01:00:00")
    assert "SAMPLE mode" in caplog.text


def test_sentinels_and_implausible_values_reach_signed_parameters_too():
    client = SampleOpenAQClient(locations=20, interval_minutes=1, bad_row_ratio=0.05)
    sensors = [s for s in all_sensors(client) if s.parameter_id in (98, 100)]
    rows = day_rows(client, sensors)
    temperatures = {row["value"] for row in rows if row["parameter"]["id"] == 100}
    assert set(SENTINELS) <= temperatures and 85.0 in temperatures
    assert 104.0 in {row["value"] for row in rows if row["parameter"]["id"] == 98}


def test_the_default_day_has_sub_hourly_sensors_and_two_pm25_sensors_at_one_location():
    resource = OpenAQResource()  # the defaults `make run` uses
    with resource.get_client() as client:
        locations = client.list_locations()
        steps = {}
        for location in locations:
            for sensor in sensors_of(location):
                page = next(client.iter_measurement_pages(sensor, DAY, NEXT_DAY))
                period = page.results[0]["period"]
                start, end = (datetime.fromisoformat(period[k]["utc"]) for k in ("datetimeFrom", "datetimeTo"))
                steps[sensor] = (end - start, period["interval"])
    assert set(steps.values()) == {
        (timedelta(minutes=1), "00:01:00"),
        (timedelta(minutes=10), "00:10:00"),
        (timedelta(hours=1), "01:00:00"),
    }
    pm25_per_location = Counter(s.location_id for s in steps if s.parameter_id == 2)
    two = [loc for loc, n in pm25_per_location.items() if n == 2]
    assert two and all(has_two_pm25_sensors(loc) for loc in two)
    # Channel B is the one-minute sensor: 1,440 periods a day.
    b = [s for s in steps if s.location_id == two[0] and s.parameter_id == 2 and steps[s][0] == timedelta(minutes=1)]
    assert len(b) == 1 and len(day_rows(SampleOpenAQClient(native_intervals=True, bad_row_ratio=0), b)) == 1440
