"""A live day on the local profile: `SOURCES_MODE=live` and only the OpenAQ and randomuser
settings, through `resources_for("local")` and the whole graph in process, against look-alikes
of both APIs. OpenAQ: sensors at 30 seconds, 10 minutes and an hour, a row repeated across two
pages and a sentinel; every valid distinct row lands once in fct_measurements, the sentinel in
the quarantine. randomuser: three users in the API's own response shape, landed exactly. No
ADS_EVENTS_URL: the ad flow reports the skip with an empty day; the landing folder is live, so
no sample export is written. The run (dbt tests included) succeeds."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.openaq.sample import sample_location
from tests.assets.test_daily_graph import accounting

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


# randomuser.me 1.4's answer, user for user as the API shapes it (postcode a number for DE, a
# string for NO; the credentials the pull drops are there).
USERS = [
    ("female", "Ms", "Lina", "Becker", "Germany", "DE", 10115, "Berlin", "1990-04-12T08:15:02.511Z"),
    ("male", "Mr", "Jonas", "Wagner", "Germany", "DE", 80331, "Bayern", "1968-11-30T22:01:47.090Z"),
    ("female", "Miss", "Ingrid", "Haugen", "Norway", "NO", "0376", "Oslo", "2012-02-29T13:44:10.004Z"),
]


def randomuser_user(i, gender, title, first, last, country, nat, postcode, state, dob):
    born = datetime.fromisoformat(dob.replace("Z", "+00:00"))
    return {
        "gender": gender,
        "name": {"title": title, "first": first, "last": last},
        "location": {
            "street": {"number": 12 + i, "name": "Hauptstraße" if nat == "DE" else "Storgata"},
            "city": "Oslo" if nat == "NO" else "Berlin",
            "state": state,
            "country": country,
            "postcode": postcode,
            "coordinates": {"latitude": "52.5200", "longitude": "13.4050"},
            "timezone": {"offset": "+1:00", "description": "Brussels, Copenhagen, Madrid, Paris"},
        },
        "email": f"{first.lower()}.{last.lower()}@example.com",
        "login": {
            "uuid": f"7a3c1f0e-5b2d-4c8e-9f1a-00000000000{i}",
            "username": f"bluebird{100 + i}",
            "password": "kitty",
            "salt": "x2Ql0Zc9",
            "md5": "1b0f2e3d4c5b6a798897a6b5c4d3e2f1",
            "sha1": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            "sha256": "aa" * 32,
        },
        "dob": {"date": dob, "age": DAY.year - born.year - ((DAY.month, DAY.day) < (born.month, born.day))},
        "registered": {"date": "2015-06-01T10:00:00.000Z", "age": 11},
        "phone": "0172-1234567",
        "cell": "0176-7654321",
        "id": {"name": "SVNR" if nat == "DE" else "FN", "value": f"{i}0000000000"},
        "picture": {
            "large": f"https://randomuser.me/api/portraits/women/{i}.jpg",
            "medium": f"https://randomuser.me/api/portraits/med/women/{i}.jpg",
            "thumbnail": f"https://randomuser.me/api/portraits/thumb/women/{i}.jpg",
        },
        "nat": nat,
    }


class LookAlike(BaseHTTPRequestHandler):
    """OpenAQ v3 under /v3 and randomuser.me 1.4 under /api/1.4/.

    /v3/locations/{id} and /v3/sensors/{id}/measurements, paged like v3. Data shifting during
    paging repeats a row: pages after the first start one row early, so the last row of page 1
    comes again first on page 2. /api/1.4/?results=n&seed=s&page=p: the first n of USERS with the
    API's `info` block."""

    series = {sid: sensor_rows(sid) for sid in SENSORS}
    requests: list = []  # (path, query, X-API-Key header) of every request

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        LookAlike.requests.append((url.path, query, self.headers.get("X-API-Key")))
        if parts[:2] == ["api", "1.4"]:
            results = [randomuser_user(i, *u) for i, u in enumerate(USERS[: int(query["results"])])]
            info = {"seed": query["seed"], "results": len(results), "page": int(query["page"]), "version": "1.4"}
            body = {"results": results, "info": info}
        elif parts[:2] == ["v3", "locations"]:
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


# What `SOURCES_MODE=live` leaves to other variables: none may come from the environment here.
UNSET = (
    "OPENAQ_MODE",
    "RANDOMUSER_MODE",
    "ADS_EVENTS_MODE",
    "LANDING_MODE",
    "ADS_EVENTS_URL",
    "LANDING_DIR",
    "OPENAQ_COUNTRIES",
    "OPENAQ_BBOX",
    "RANDOMUSER_NATIONALITIES",
)


@pytest.fixture(scope="module")
def live_day(spark, tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), LookAlike)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    data_dir = tmp_path_factory.mktemp("data")
    instance = dg.DagsterInstance.ephemeral()
    LookAlike.requests.clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name in UNSET:
                mp.delenv(name, raising=False)
            mp.setenv("DATA_DIR", str(data_dir))
            mp.setenv("SOURCES_MODE", "live")
            # Only the OpenAQ and randomuser settings: where the APIs are, the key, what to pull.
            mp.setenv("OPENAQ_BASE_URL", f"http://127.0.0.1:{server.server_port}/v3")
            mp.setenv("OPENAQ_API_KEY", "test-key")
            mp.setenv("OPENAQ_LOCATION_IDS", str(LOCATION_ID))
            mp.setenv("RANDOMUSER_BASE_URL", f"http://127.0.0.1:{server.server_port}/api/1.4/")
            mp.setenv("RANDOMUSER_USERS_PER_DAY", str(len(USERS)))
            resources = resources_for("local")
            result = dg.materialize(all_assets(), resources=resources, partition_key=DAY.isoformat(), instance=instance)
    finally:
        server.shutdown()
        server.server_close()
    return resources, result, instance


def test_every_source_is_live_from_sources_mode_alone(live_day):
    resources, _, _ = live_day
    modes = {key: resources[key].mode for key in ("openaq", "randomuser", "ads", "landing")}
    assert modes == dict.fromkeys(modes, "live")
    assert resources["ads"].url is None
    openaq = [(path, key) for path, _, key in LookAlike.requests if path.startswith("/v3/")]
    assert openaq and all(key == "test-key" for _, key in openaq)
    # 3 pages for the 30-s sensor, 1 for each other, and the location.
    assert len(openaq) == 3 + 1 + 1 + 1
    users = [query for path, query, _ in LookAlike.requests if path.startswith("/api/")]
    assert users == [{"results": "3", "seed": f"airstream-{DAY.isoformat()}", "page": "1"}]


def test_every_valid_distinct_row_lands_once_and_the_sentinel_is_quarantined(live_day):
    resources, result, _ = live_day
    failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert result.success, failed
    # Every blocking check passes.
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
    _, result, _ = live_day
    meta = result.asset_materializations_for_node("clean_openaq_measurements")[0].metadata
    # 30-s sensor: pages of 1,000, 1,000 and 881 rows; its 1,000th row is served twice.
    assert meta["raw_rows"].value == 2880 + 1 + 24 + 144
    assert meta["duplicates"].value == 1
    assert meta["quarantined_rows"].value == 1


def test_the_users_land_exactly(live_day):
    resources, result, _ = live_day
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        clean = con.execute("select count(*) from clean.randomuser_users").fetchone()[0]
        quarantined = con.execute("select count(*) from clean.randomuser_users_quarantine").fetchone()[0]
        dim = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        by_country = con.execute("""
            select country, ingested_on, user_count, female_count, male_count
            from marts.users_by_country_daily order by country""").fetchall()
    assert (clean, quarantined, dim, resources["user_store"].count()) == (3, 0, 3, 3)
    assert by_country == [("Germany", DAY, 2, 1, 1), ("Norway", DAY, 1, 1, 0)]
    pull = result.asset_materializations_for_node("randomuser_users_pull")
    meta = {m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()} for m in pull}
    assert meta["api/randomuser_users"]["source_mode"] == "live"
    assert meta["api/randomuser_users"]["messages_written"] == 3
    users = accounting(result, "randomuser_users")
    assert users["passed"], users


def test_the_ad_flow_reports_the_skip_and_the_landing_folder_writes_nothing(live_day):
    resources, result, instance = live_day
    pull = result.asset_materializations_for_node("ads_events_pull")
    meta = {m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()} for m in pull}
    assert meta["api/ads_events"]["skipped"] == "ADS_EVENTS_URL is not set"
    assert meta["api/ads_events"]["source_mode"] == "live"
    assert meta["api/ads_events"]["messages_written"] == 0
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("ads pull skipped: ADS_EVENTS_URL is not set") for m in logs), logs
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        assert con.execute("select count(*) from marts.agg_campaign_daily").fetchone()[0] == 0
    files = result.asset_materializations_for_node("landing__ecommerce_files")[0].metadata
    assert files["mode"].value == "live" and files["dagster/row_count"].value == 0
    landing = Path(resources["landing"].landing_dir)
    assert not landing.exists() or not any(p.is_file() for p in landing.rglob("*"))
