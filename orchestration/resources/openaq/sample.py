"""Deterministic synthetic OpenAQ v3 data in the API's exact JSON shape, for runs without a key.

Seeds are strings of (day, location or sensor id): random.Random hashes them with SHA-512, unlike
hash(), salted per process, so a partition re-run sees identical data. Rows are built page by page:
a day can be millions of rows."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

from assets.core.memory import gc_paused
from orchestration.resources.openaq.pages import MeasurementPage, SensorRef, as_utc, parse_measurement_page

FIRST_LOCATION_ID = 10_000
# (code, country id, country, city, lat, lon, timezone, government provider, pollution factor,
# gases in ppm as US-style networks report them, else µg/m³ as EU/Indian ones do)
CITIES = [
    ("US", 155, "United States", "Los Angeles", 34.05, -118.24, "America/Los_Angeles", "AirNow", 1.3, True),
    ("DE", 50, "Germany", "Berlin", 52.52, 13.40, "Europe/Berlin", "EEA", 0.9, False),
    ("IN", 9, "India", "Delhi", 28.61, 77.21, "Asia/Kolkata", "CPCB", 6.0, False),
    ("US", 155, "United States", "Denver", 39.74, -104.99, "America/Denver", "AirNow", 0.8, True),
    ("GB", 79, "United Kingdom", "London", 51.51, -0.13, "Europe/London", "DEFRA", 1.0, False),
    ("TH", 111, "Thailand", "Bangkok", 13.76, 100.50, "Asia/Bangkok", "Air4Thai", 2.5, True),
    ("CL", 3, "Chile", "Santiago", -33.45, -70.67, "America/Santiago", "SINCA", 2.0, True),
    ("FR", 22, "France", "Paris", 48.86, 2.35, "Europe/Paris", "EEA", 1.0, False),
    ("AU", 8, "Australia", "Sydney", -33.87, 151.21, "Australia/Sydney", "NSW DPE", 0.6, True),
]
STREETS = ["Main St", "Central Park", "Airport", "Harbour", "University", "Ring Road", "Old Town"]
# v3 parameter id -> (name, units, typical level, decimals, hour of the daily peak)
PARAMETERS = {
    1: ("pm10", "µg/m³", 22.0, 1, 8),
    2: ("pm25", "µg/m³", 11.0, 1, 8),
    3: ("o3", "µg/m³", 55.0, 1, 15),
    4: ("co", "µg/m³", 350.0, 1, 8),
    5: ("no2", "µg/m³", 22.0, 1, 8),
    6: ("so2", "µg/m³", 4.0, 1, 11),
    7: ("no2", "ppm", 0.012, 4, 8),
    8: ("co", "ppm", 0.3, 3, 8),
    9: ("so2", "ppm", 0.0015, 4, 11),
    10: ("o3", "ppm", 0.028, 4, 15),
    19: ("pm1", "µg/m³", 7.0, 1, 8),
    98: ("relativehumidity", "%", 65.0, 1, 5),
    100: ("temperature", "c", 0.0, 1, 15),
}
GASES = {"no2": (5, 7), "o3": (3, 10), "co": (4, 8), "so2": (6, 9)}  # (µg/m³ id, ppm id)
LOW_COST = [1, 19, 98, 100]  # besides pm25, what a low-cost sensor measures
QUIRKS = ("null", "sentinel", "string", "no_period", "duplicate", "implausible")
QUIRK_VALUES = {"null": None, "string": "n/a"}
# Providers' "no data" values, on any parameter (a -999 °C reached the marts once), and values
# no sensor can measure: RH over 100 %, a sun-baked 85 °C, a concentration drifted below zero.
SENTINELS = (-999.0, -9999.0, 9999.0)
IMPLAUSIBLE = {98: 104.0, 100: 85.0}
# Low-cost sensors report raw data at their own cadence, whatever the monitors do; some of
# their locations carry two PM2.5 sensors (PurpleAir-style channels A and B).
LOW_COST_INTERVAL_MINUTES, CHANNEL_B_INTERVAL_MINUTES = 10, 1


def has_two_pm25_sensors(location_id: int) -> bool:
    return location_id % 8 == 5


def sample_location(location_id: int) -> dict:
    """A location object in the v3 shape; depends on its id only, so the catalogue never drifts.
    Not cached: it takes microseconds, and a shared dict mutated by a caller would drift."""
    rng = random.Random(f"location:{location_id}")
    code, country_id, country, city, lat, lon, tz, provider, _, ppm = CITIES[location_id % len(CITIES)]
    monitor = rng.random() < 0.7
    if monitor:
        gases = rng.sample(sorted(GASES), rng.randint(1, 4))
        extra = [GASES[name][ppm] for name in gases] + rng.sample([1, 100], rng.randint(0, 1))
    else:
        provider = rng.choice(["AirGradient", "Clarity", "PurpleAir"])
        extra = rng.sample(LOW_COST, rng.randint(1, 4))
    lat, lon = round(lat + rng.uniform(-0.2, 0.2), 5), round(lon + rng.uniform(-0.2, 0.2), 5)
    coordinates = None if rng.random() < 0.05 else {"latitude": lat, "longitude": lon}
    channel_b = not monitor and has_two_pm25_sensors(location_id)
    pids = [2, *extra][:5] + [2] if channel_b else [2, *extra][:6]
    sensors = [
        {
            "id": location_id * 10 + k,
            "name": f"{name} {units}" + (" (B)" if channel_b and k == len(pids) - 1 else ""),
            "parameter": {"id": pid, "name": name, "units": units, "displayName": None},
        }
        for k, (pid, (name, units, *_)) in enumerate((pid, PARAMETERS[pid]) for pid in pids)
    ]
    first = datetime(2016 + rng.randint(0, 8), rng.randint(1, 12), 1, tzinfo=UTC)
    last = datetime(2026, 1, 1, tzinfo=UTC)  # fixed, or the catalogue would change daily
    return {
        "id": location_id,
        "name": f"{city} - {rng.choice(STREETS)}",
        "locality": None if rng.random() < 0.2 else city,
        "timezone": tz,
        "country": {"id": country_id, "code": code, "name": country},
        "owner": {"id": 4 if monitor else 7, "name": provider},
        "provider": {"id": 119 if monitor else 166, "name": provider},
        "isMobile": False,
        "isMonitor": monitor,
        "instruments": [{"id": 2, "name": "Government Monitor"} if monitor else {"id": 3, "name": "Low-cost sensor"}],
        "sensors": sensors,
        "coordinates": coordinates,
        "distance": None,
        "licenses": [
            {
                "id": 33,
                "name": "CC BY 4.0",
                "attribution": {"name": provider, "url": None},
                "dateFrom": "2016-01-01",
                "dateTo": None,
            }
        ],
        "bounds": [lon, lat, lon, lat],
        "datetimeFirst": _stamp(first, tz),
        "datetimeLast": _stamp(last, tz),
    }


def native_interval_minutes(location: dict, sensor_id: int) -> int | None:
    """The sensor's own raw cadence, or None where the configured interval applies (monitors)."""
    if location["isMonitor"]:
        return None
    sensor = next(s for s in location["sensors"] if s["id"] == sensor_id)
    return CHANNEL_B_INTERVAL_MINUTES if sensor["name"].endswith("(B)") else LOW_COST_INTERVAL_MINUTES


class SampleOpenAQClient:
    mode = "sample"

    def __init__(
        self,
        *,
        locations: int = 20,
        interval_minutes: int = 60,
        bad_row_ratio: float = 0.002,
        page_limit: int = 1000,
        location_ids: Sequence[int] = (),
        period_label: str = "raw",
        native_intervals: bool = False,
    ):
        """native_intervals: low-cost sensors keep their own cadence (native_interval_minutes);
        otherwise every sensor reports every interval_minutes."""
        self._ids = sorted(set(location_ids)) or range(FIRST_LOCATION_ID, FIRST_LOCATION_ID + locations)
        self._minutes, self._native = interval_minutes, native_intervals
        self._ratio, self._limit, self._label = bad_row_ratio, page_limit, period_label

    def list_locations(self) -> list[dict]:
        return [sample_location(location_id) for location_id in self._ids]

    def iter_measurement_pages(self, sensor: SensorRef, start: datetime, end: datetime) -> Iterator[MeasurementPage]:
        rows = self._rows(sensor, as_utc(start), as_utc(end))
        page, seen = 1, 0
        while True:
            with gc_paused():
                results = list(islice(rows, self._limit))
            seen += len(results)
            # Like the API: a full page only says ">limit"; the count is known on the last page.
            found = f">{self._limit}" if len(results) == self._limit else seen
            meta = {"name": "openaq-api", "website": "/", "page": page, "limit": self._limit, "found": found}
            body = {"meta": meta, "results": results}
            yield parse_measurement_page(body, sensor, page)
            if len(results) < self._limit:
                return
            page += 1

    def _rows(self, sensor: SensorRef, start: datetime, end: datetime) -> Iterator[dict]:
        location = sample_location(sensor.location_id)
        pid = sensor.parameter_id if sensor.parameter_id in PARAMETERS else 2  # unknown: pm25
        name, units, _, decimals, peak = PARAMETERS[pid]
        rng = random.Random(f"{start.date().isoformat()}:{sensor.sensor_id}")
        level, amplitude, additive = _day_level(rng, pid, location, start)
        daily = [amplitude * math.cos(2 * math.pi * (h - peak) / 24) for h in range(24)]
        coords = location["coordinates"] if sensor.location_id % 4 == 0 else None
        minutes = (self._native and native_interval_minutes(location, sensor.sensor_id)) or self._minutes
        step, interval = timedelta(minutes=minutes), f"{minutes // 60:02d}:{minutes % 60:02d}:00"
        label, ratio = self._label, self._ratio
        zone, hour_ends = ZoneInfo(location["timezone"]), start.replace(tzinfo=None)
        t, stop, index, t_iso = hour_ends, end.replace(tzinfo=None), 0, hour_ends.isoformat()
        while t + step <= stop:
            if t >= hour_ends:  # the zone is asked once per UTC hour: DST shifts fall on whole hours
                offset = t.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta()
                suffix = t.replace(tzinfo=timezone(offset)).isoformat()[-6:]
                hour_ends = t.replace(minute=0, second=0) + timedelta(hours=1)
                local = t + offset
                from_local, hour = local.isoformat() + suffix, local.hour
            t_next = t + step
            next_local = t_next + offset  # may straddle a DST shift by one period: fine for samples
            to_local, next_iso = next_local.isoformat() + suffix, t_next.isoformat()
            u, noise = rng.random(), 0.7 + 0.6 * rng.random()
            if additive:
                value = round(level + daily[hour] + (noise - 1) * 3, decimals)  # RH stays <= 98
            else:
                value = round(level * (1 + daily[hour]) * noise, decimals)
            quirk = QUIRKS[int(u / ratio * len(QUIRKS))] if u < ratio else None
            if quirk == "sentinel":
                value = SENTINELS[index % len(SENTINELS)]
            elif quirk == "implausible":
                value = IMPLAUSIBLE.get(pid, -2.5)
            else:
                value = QUIRK_VALUES.get(quirk, value)
            utc = "Z" if index % 2 == 0 else "+00:00"  # both spellings occur in the real API
            start_stamp, end_stamp = t_iso + utc, next_iso + utc
            for _ in range(2 if quirk == "duplicate" else 1):  # an exact duplicate: same period, value
                period_from = {"utc": start_stamp, "local": from_local}
                period_to = {"utc": end_stamp, "local": to_local}
                row = {
                    "value": value,
                    "flagInfo": {"hasFlags": False},
                    "parameter": {"id": pid, "name": name, "units": units, "displayName": None},
                    "period": {
                        "label": label,
                        "interval": interval,
                        "datetimeFrom": period_from,
                        "datetimeTo": period_to,
                    },
                    "coordinates": dict(coords) if coords else None,
                    "summary": None,
                    "coverage": {
                        "expectedCount": 1,
                        "expectedInterval": interval,
                        "observedCount": 1,
                        "observedInterval": interval,
                        "percentComplete": 100.0,
                        "percentCoverage": 100.0,
                        "datetimeFrom": dict(period_from),
                        "datetimeTo": dict(period_to),
                    },
                }
                if quirk == "no_period":
                    del row["period"]
                yield row
            t, t_iso, from_local, hour, index = t_next, next_iso, to_local, next_local.hour, index + 1


def _day_level(rng: random.Random, pid: int, location: dict, day: datetime) -> tuple[float, float, bool]:
    """(level of the day, daily amplitude, additive?). Pollutants get a lognormal day level, so
    clean and smoggy days both occur, and a relative swing; weather gets absolute ones."""
    city = CITIES[location["id"] % len(CITIES)]
    if pid == 100:  # colder far from the equator and in the local winter: can go below zero
        lat = location["bounds"][1]
        season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365) * (1 if lat > 0 else -1)
        return 27 - 0.45 * abs(lat) + 0.3 * abs(lat) * season + rng.gauss(0, 3), 5.0, True
    if pid == 98:
        return min(85.0, max(30.0, rng.gauss(65, 12))), 12.0, True
    factor = city[8] if pid in (1, 2, 19) else math.sqrt(city[8])
    return PARAMETERS[pid][2] * factor * math.exp(rng.gauss(0, 0.45)), 0.3, False


def _stamp(moment: datetime, tz: str) -> dict:
    local = moment.astimezone(ZoneInfo(tz)).isoformat()
    return {"utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": local}
