"""Pure parsing of OpenAQ v3 response bodies: no I/O, so every API quirk is unit-testable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestration.resources.openaq.errors import OpenAQPageError
from orchestration.resources.web import decode_json_body

# Enough of a broken body to diagnose it in the quarantine, without storing a whole HTML error page.
RAW_BODY_LIMIT = 4096


@dataclass(frozen=True)
class SensorRef:
    sensor_id: int
    location_id: int
    parameter_id: int | None


@dataclass(frozen=True)
class MeasurementPage:
    sensor: SensorRef
    page: int  # 1-based page number requested
    results: list[dict]  # measurement objects exactly as received
    found: int | None  # parsed meta.found lower bound, may be None
    rejected_reason: str | None = None  # set when the page was malformed
    raw_body: str | None = None  # the body text, only for rejected pages


def sensors_of(location: dict) -> list[SensorRef]:
    """The sensors of a location object; a sensor without an integer id breaks the catalogue."""
    location_id = location.get("id")
    if not _is_int(location_id):
        raise OpenAQPageError(f"location without an integer id: {_preview(location)}")
    refs = []
    for sensor in location.get("sensors") or []:
        sensor_id = sensor.get("id") if isinstance(sensor, dict) else None
        if not _is_int(sensor_id):
            raise OpenAQPageError(f"location {location_id} has a sensor without an integer id")
        # Names repeat across parameter ids (no2 is 5 in µg/m³ and 7 in ppm): keep the id.
        parameter = sensor.get("parameter") or {}
        parameter_id = parameter.get("id") if isinstance(parameter, dict) else None
        refs.append(SensorRef(sensor_id, location_id, parameter_id if _is_int(parameter_id) else None))
    return refs


def parse_found(value: Any) -> int | None:
    """meta.found as a lower bound: 12 -> 12, ">1000" -> 1000, anything else -> None.

    OpenAQ stops counting at the limit and answers a string like ">1000", so this is metadata
    only: paging ends on a short page, never on this number.
    """
    if _is_int(value):
        return value if value >= 0 else None
    if isinstance(value, str):
        digits = value.strip().lstrip(">=").strip()
        if digits.isdigit():
            return int(digits)
    return None


def parse_measurement_page(body: bytes | str | dict, sensor: SensorRef, page: int) -> MeasurementPage:
    """One page of sensor measurements. A malformed page comes back rejected, never raised nor
    dropped, so the asset can quarantine it and count it; odd rows pass through untouched."""
    parsed, reason = decode_json_body(body)
    if reason is None:
        reason = _shape_problem(parsed)
    if reason is not None:
        return MeasurementPage(sensor, page, [], None, rejected_reason=reason, raw_body=_raw_text(body))
    meta = parsed.get("meta")
    found = parse_found(meta.get("found")) if isinstance(meta, dict) else None
    return MeasurementPage(sensor, page, parsed["results"], found)


def is_last_page(page: MeasurementPage, limit: int) -> bool:
    """A short or empty page ends the listing; a rejected one too, as its successor is unknowable."""
    return page.rejected_reason is not None or len(page.results) < limit


def parse_locations_page(body: bytes | str | dict) -> tuple[list[dict], int | None]:
    """The locations of a listing page and its meta.found; raises OpenAQPageError if malformed."""
    parsed, reason = decode_json_body(body)
    if reason is None:
        reason = _shape_problem(parsed)
    if reason is None:
        missing = [i for i, loc in enumerate(parsed["results"]) if not _is_int(loc.get("id"))]
        reason = f"location #{missing[0]} has no integer id" if missing else None
    if reason is not None:
        raise OpenAQPageError(f"malformed locations page: {reason}; body: {_raw_text(body)[:300]!r}")
    meta = parsed.get("meta")
    return parsed["results"], parse_found(meta.get("found")) if isinstance(meta, dict) else None


def as_utc(moment: datetime) -> datetime:
    """A window bound in UTC; a naive one is refused, as guessing its zone would shift a partition."""
    if moment.tzinfo is None:
        raise ValueError(f"OpenAQ window bounds must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


def _shape_problem(parsed: Any) -> str | None:
    if not isinstance(parsed, dict):
        return f"body is a JSON {type(parsed).__name__}, not an object"
    results = parsed.get("results")
    if not isinstance(results, list):
        return "body has no 'results' list" if results is None else "'results' is not a list"
    for index, row in enumerate(results):
        if not isinstance(row, dict):
            return f"result #{index} is a {type(row).__name__}, not an object"
    return None


def _raw_text(body: bytes | str | dict) -> str:
    if isinstance(body, (bytes, bytearray)):
        # 4 bytes per character at most: decode only what can survive the cut.
        text = bytes(body[: RAW_BODY_LIMIT * 4 + 4]).decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body, default=str, ensure_ascii=False)
    return text[:RAW_BODY_LIMIT] + ("…[truncated]" if len(text) > RAW_BODY_LIMIT else "")


def _preview(obj: Any) -> str:
    return json.dumps(obj, default=str, ensure_ascii=False)[:200]


def _is_int(value: Any) -> bool:
    # bool is an int subclass, and a JSON true is never an id or a count.
    return isinstance(value, int) and not isinstance(value, bool)
