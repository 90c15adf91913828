"""A live day from an OpenAQ v3 look-alike, through the whole graph in process: sensors at
30 seconds, 10 minutes and an hour, a row repeated across two pages and a sentinel. Every valid
distinct row lands once in fct_measurements, the sentinel in the quarantine, and the run (dbt
tests included) succeeds."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.openaq import OpenAQResource
from orchestration.resources.openaq.sample import sample_location
from orchestration.resources.randomuser import RandomUserResource

DAY = date(2026, 11, 20)
LIMIT = 1000
LOCATION_ID = 2178
PM25 = {"id": 2, "name": "pm25", "units": "µg/m³", "displayName": "PM2.5"}
TEMP = {"id": 100, "name": "temperature", "units": "c", "displayName": "Temperature (C)"}
# sensor id -> (parameter, seconds between values)
SENSORS = {21781: (PM25, 30), 21782: (PM25, 3600), 21783: (TEMP, 600)}
SENTINEL_AT = (21783, 50)  # the 51st ten-minute temperature is a provider's -999


def measurement(parameter, start, seconds, value):
    stamp = lambda t: {"utc": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": t.isoformat()}  # noqa: E731
    period = {
        "label": "raw",
        "interval": str(timedelta(seconds=seconds)).rjust(8, "0"),
        "datetimeFrom": stamp(start),
        "datetimeTo": stamp(start + timedelta(seconds=seconds)),
    }
    return {
        "value": value,
        "flagInfo": {"hasFlags": False},
        "parameter": parameter,
        "period": period,
        "coordinates": None,
        "summary": None,
        "coverage": {"percentCoverage": 100.0},
    }


def sensor_rows(sensor_id):
    parameter, seconds = SENSORS[sensor_id]
    midnight = datetime.combine(DAY, datetime.min.time(), UTC)
    rows = []
    for i in range(86400 // seconds):
        value = round(8 + (i % 17) * 0.5, 1) if parameter is PM25 else round(-3 + (i % 40) * 0.25, 2)
        if (sensor_id, i) == SENTINEL_AT:
            value = -999
        rows.append(measurement(parameter, midnight + timedelta(seconds=i * seconds), seconds, value))
    return rows


def location():
    doc = sample_location(10_005)  # a v3-shaped location; its sensors are replaced
    doc["id"] = LOCATION_ID
    doc["sensors"] = [
        {"id": sid, "name": f"{p['name']} {p['units']}", "parameter": p} for sid, (p, _) in SENSORS.items()
    ]
    return doc


class LookAlike(BaseHTTPRequestHandler):
    """/v3/locations/{id} and /v3/sensors/{id}/measurements, paged like v3. Data shifting during
    paging repeats a row: pages after the first start one row early, so the last row of page 1
    comes again first on page 2."""

    series = {sid: sensor_rows(sid) for sid in SENSORS}

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[:2] == ["v3", "locations"]:
            body = {"meta": {"found": 1}, "results": [location()]}
        else:
            rows, limit, page = self.series[int(parts[2])], int(query["limit"]), int(query["page"])
            first = max((page - 1) * limit - 1, 0) if page > 1 else 0
            results = rows[first : first + limit]
            body = {"meta": {"found": f">{limit}" if len(results) == limit else len(results)}, "results": results}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def live_day(spark, tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), LookAlike)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    data_dir = tmp_path_factory.mktemp("data")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DATA_DIR", str(data_dir))
            mp.setenv("SOURCES_MODE", "sample")
            resources = resources_for("local")
            resources["openaq"] = OpenAQResource(
                mode="live",
                base_url=f"http://127.0.0.1:{server.server_port}/v3",
                api_key="test-key",
                location_ids=[LOCATION_ID],
                page_limit=LIMIT,
                backoff_seconds=0.01,
            )
            resources["randomuser"] = RandomUserResource(mode="sample", users_per_day=20)
            result = dg.materialize(all_assets(), resources=resources, partition_key=DAY.isoformat())
    finally:
        server.shutdown()
        server.server_close()
    return resources, result


def test_every_valid_distinct_row_lands_once_and_the_sentinel_is_quarantined(live_day):
    resources, result = live_day
    assert result.success
    # Every blocking check passes (the sample ad day's unknown campaign only warns).
    assert all(e.passed for e in result.get_asset_check_evaluations() if e.severity == dg.AssetCheckSeverity.ERROR)
    expected = {
        (sid, row["period"]["datetimeTo"]["utc"].replace("T", " ").rstrip("Z"), row["value"])
        for sid in SENSORS
        for row in sensor_rows(sid)
        if row["value"] != -999
    }
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        fct = con.execute("""
            select sensor_id, strftime(period_end_utc, '%Y-%m-%d %H:%M:%S'), value
            from marts.fct_measurements""").fetchall()
        quarantine = con.execute(
            "select sensor_id, reason, payload from clean.openaq_measurements_quarantine"
        ).fetchall()
        agg = con.execute("""
            select parameter_id, hours_covered, meets_coverage, sensor_count, measurement_count,
                   exceeds_who_pm25_guideline is not null
            from marts.agg_air_quality_daily order by parameter_id""").fetchall()
    assert len(fct) == len(set(fct)) == len(expected) == 2880 + 24 + 143
    assert set(fct) == expected
    assert [(sid, reason) for sid, reason, _ in quarantine] == [(21783, "sentinel_value")]
    assert json.loads(quarantine[0][2])["measurement"]["value"] == -999
    assert agg == [(2, 24, True, 2, 2880 + 24, True), (100, 24, True, 1, 143, False)]


def test_the_repeated_rows_were_pulled_and_folded(live_day):
    _, result = live_day
    meta = result.asset_materializations_for_node("clean_openaq_measurements")[0].metadata
    # 30-s sensor: pages of 1,000, 1,000 and 881 rows; its 1,000th row is served twice.
    assert meta["raw_rows"].value == 2880 + 1 + 24 + 144
    assert meta["duplicates"].value == 1
    assert meta["quarantined_rows"].value == 1
