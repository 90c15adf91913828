import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from orchestration.resources.openaq import (
    MeasurementPage,
    OpenAQPageError,
    SensorRef,
    as_utc,
    is_last_page,
    parse_found,
    parse_locations_page,
    parse_measurement_page,
    sensors_of,
)
from orchestration.resources.openaq.pages import RAW_BODY_LIMIT

SENSOR = SensorRef(sensor_id=3917, location_id=2178, parameter_id=2)


def measurement(utc_from="2026-11-20T00:00:00Z", utc_to="2026-11-20T01:00:00Z", value=12.3, **overrides):
    row = {
        "value": value,
        "flagInfo": {"hasFlags": False},
        "parameter": {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": None},
        "period": {
            "label": "raw",
            "interval": "01:00:00",
            "datetimeFrom": {"utc": utc_from, "local": "2026-11-20T01:00:00+01:00"},
            "datetimeTo": {"utc": utc_to, "local": "2026-11-20T02:00:00+01:00"},
        },
        "coordinates": None,
        "summary": None,
        "coverage": {"expectedCount": 1, "observedCount": 1, "percentComplete": 100.0},
    }
    row.update(overrides)
    return row


def page_body(results, found=1, **meta):
    return {"meta": {"name": "openaq-api", "page": 1, "limit": 1000, "found": found, **meta}, "results": results}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        (0, 0),
        (">1000", 1000),
        ("1000", 1000),
        (" >1000 ", 1000),
        (None, None),
        ("many", None),
        (">", None),
        (-1, None),
        (True, None),
        (12.5, None),
        ([], None),
    ],
)
def test_parse_found(value, expected):
    assert parse_found(value) == expected


@pytest.mark.parametrize("as_type", [bytes, str, dict])
@pytest.mark.parametrize("found", [3, ">1000", None])
def test_measurement_page_from_any_body_type(as_type, found):
    body = page_body([measurement(), measurement(), measurement()], found=found)
    raw = {bytes: lambda b: json.dumps(b).encode(), str: json.dumps, dict: lambda b: b}[as_type](body)

    page = parse_measurement_page(raw, SENSOR, 2)

    assert page == MeasurementPage(SENSOR, 2, body["results"], parse_found(found))
    assert page.rejected_reason is None and page.raw_body is None


@pytest.mark.parametrize("suffix", ["Z", "+00:00"])
def test_utc_spellings_are_passed_through(suffix):
    row = measurement(utc_from=f"2026-11-20T00:00:00{suffix}", utc_to=f"2026-11-20T01:00:00{suffix}")
    page = parse_measurement_page(json.dumps(page_body([row])), SENSOR, 1)
    assert page.results[0]["period"]["datetimeTo"]["utc"] == f"2026-11-20T01:00:00{suffix}"


@pytest.mark.parametrize(
    "row",
    [
        measurement(coordinates=None, summary=None),
        measurement(coordinates={"latitude": 52.5, "longitude": 13.4}),
        measurement(value=None),
        measurement(value="n/a"),
        measurement(value=-999),
        {k: v for k, v in measurement().items() if k != "period"},
        {},
    ],
    ids=["nulls", "coordinates", "null-value", "string-value", "negative", "no-period", "empty-object"],
)
def test_odd_rows_pass_through_unchanged(row):
    # Validating rows is the Spark step's job: the parser must neither fix nor drop them.
    page = parse_measurement_page(json.dumps(page_body([row])).encode(), SENSOR, 1)
    assert page.rejected_reason is None
    assert page.results == [row]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ('{"results": [', "not JSON"),
        ("[1, 2]", "JSON list, not an object"),
        ('{"meta": {"found": 0}}', "no 'results' list"),
        ('{"results": {"value": 1}}', "'results' is not a list"),
        ('{"results": [{"value": 1}, 7]}', "result #1 is a int, not an object"),
        ('{"results": [null]}', "result #0 is a NoneType"),
    ],
)
def test_malformed_measurement_pages_are_rejected_not_raised(body, reason):
    page = parse_measurement_page(body, SENSOR, 4)

    assert reason in page.rejected_reason
    assert (page.sensor, page.page, page.results, page.found) == (SENSOR, 4, [], None)
    assert page.raw_body is not None
    assert is_last_page(page, limit=1000)


def test_rejected_raw_body_is_truncated():
    body = b'{"results": [' + b"x" * (RAW_BODY_LIMIT * 10)
    page = parse_measurement_page(body, SENSOR, 1)
    assert page.raw_body.startswith('{"results": [xxx')
    assert page.raw_body.endswith("[truncated]")
    assert len(page.raw_body) < RAW_BODY_LIMIT + 20


@pytest.mark.parametrize(
    ("count", "limit", "last"), [(0, 3, True), (2, 3, True), (3, 3, False), (1000, 1000, False), (999, 1000, True)]
)
def test_is_last_page_on_short_or_empty_page(count, limit, last):
    # found says ">1000" whatever the real count: only the page length decides.
    page = MeasurementPage(SENSOR, 1, [measurement()] * count, found=1000)
    assert is_last_page(page, limit) is last


def location(location_id=2178, sensors=None, **overrides):
    loc = {
        "id": location_id,
        "name": "Del Norte",
        "locality": None,
        "timezone": "America/Denver",
        "country": {"id": 155, "code": "US", "name": "United States"},
        "coordinates": None,
        "sensors": sensors if sensors is not None else [],
    }
    loc.update(overrides)
    return loc


def sensor(sensor_id, parameter_id, name, units, display=None):
    return {
        "id": sensor_id,
        "name": f"{name} {units}",
        "parameter": {"id": parameter_id, "name": name, "units": units, "displayName": display},
    }


def test_sensors_of_keys_on_parameter_id_not_name():
    loc = location(
        sensors=[
            sensor(11, 5, "no2", "µg/m³"),
            sensor(12, 7, "no2", "ppm", "NO₂"),
            {"id": 13, "name": "mystery", "parameter": None},
        ]
    )
    assert sensors_of(loc) == [SensorRef(11, 2178, 5), SensorRef(12, 2178, 7), SensorRef(13, 2178, None)]


@pytest.mark.parametrize("sensors", [None, []])
def test_sensors_of_location_without_sensors(sensors):
    assert sensors_of({"id": 1, "sensors": sensors}) == []


@pytest.mark.parametrize(
    "loc", [{"name": "no id"}, {"id": "1"}, location(sensors=[{"name": "no id"}]), location(sensors=["x"])]
)
def test_sensors_of_broken_catalogue_fails_loudly(loc):
    with pytest.raises(OpenAQPageError):
        sensors_of(loc)


@pytest.mark.parametrize("found", [2, ">1000", None])
def test_parse_locations_page(found):
    locations = [location(1, locality="Denver"), location(2, coordinates={"latitude": 1.0, "longitude": 2.0})]
    body = json.dumps(page_body(locations, found=found)).encode()
    assert parse_locations_page(body) == (locations, parse_found(found))


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"meta": {}}', b'{"results": "x"}', b'{"results": [1]}', b'{"results": [{"name": "x"}]}'],
)
def test_malformed_locations_page_raises(body):
    with pytest.raises(OpenAQPageError, match="malformed locations page"):
        parse_locations_page(body)


def test_as_utc_converts_aware_and_refuses_naive():
    paris = timezone(timedelta(hours=1))
    assert as_utc(datetime(2026, 11, 20, 1, tzinfo=paris)) == datetime(2026, 11, 20, tzinfo=UTC)
    assert as_utc(datetime(2026, 11, 20, 1, tzinfo=paris)).tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        as_utc(datetime(2026, 11, 20))
