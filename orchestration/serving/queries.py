"""What each endpoint returns, declared once, and the parameterised SQL that reads it.

A `Listing` names the mart, the columns returned (with their Python types: the response
models are built from them), the keyset the pages are ordered by, and the filters allowed.
SQL is assembled only from these declared identifiers; every value a client sends travels as
a bound parameter. Pages are keyset-paginated: the cursor is the last row's key, opaque to
the client (base64 JSON), and the next page is `(key) > (cursor)` in key order.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class BadRequest(ValueError):
    """A client error with a message meant for the client."""


@dataclass(frozen=True)
class Filter:
    name: str  # the query parameter
    column: str  # qualified column it restricts
    op: str  # one of "=", ">=", "<="
    type: type


@dataclass(frozen=True)
class Listing:
    name: str
    source: str  # a FROM clause of declared identifiers only
    columns: dict[str, tuple[str, type]]  # output name -> (SQL expression, Python type)
    key: tuple[str, ...]  # output names, the page order; unique per row
    filters: tuple[Filter, ...] = field(default=())
    tables: tuple[str, ...] = field(default=())  # marts read: what the cache version covers


AIR_QUALITY_DAILY = Listing(
    name="air_quality_daily",
    source="marts.agg_air_quality_daily a left join marts.dim_locations l on l.location_id = a.location_id",
    # The columns agg_air_quality_daily has today; a column it gains is one line here.
    columns={
        "measured_on": ("a.measured_on", date),
        "location_id": ("a.location_id", int),
        "parameter_id": ("a.parameter_id", int),
        "parameter_name": ("a.parameter_name", str),
        "units": ("a.units", str),
        "country_code": ("l.country_code", str | None),
        "min_value": ("a.min_value", float),
        "mean_value": ("a.mean_value", float),
        "max_value": ("a.max_value", float),
        "measurement_count": ("a.measurement_count", int),
        "exceeds_who_pm25_guideline": ("a.exceeds_who_pm25_guideline", bool | None),
    },
    key=("measured_on", "location_id", "parameter_id"),
    filters=(
        Filter("location_id", "a.location_id", "=", int),
        Filter("parameter", "a.parameter_name", "=", str),
        Filter("country", "l.country_code", "=", str),
        Filter("date_from", "a.measured_on", ">=", date),
        Filter("date_to", "a.measured_on", "<=", date),
    ),
    tables=("agg_air_quality_daily", "dim_locations"),
)

LOCATIONS = Listing(
    name="locations",
    source="marts.dim_locations l",
    columns={
        "location_id": ("l.location_id", int),
        "location_name": ("l.location_name", str | None),
        "locality": ("l.locality", str | None),
        "timezone": ("l.timezone", str | None),
        "country_code": ("l.country_code", str | None),
        "country_name": ("l.country_name", str | None),
        "provider_name": ("l.provider_name", str | None),
        "is_mobile": ("l.is_mobile", bool | None),
        "is_monitor": ("l.is_monitor", bool | None),
        "latitude": ("l.latitude", float | None),
        "longitude": ("l.longitude", float | None),
    },
    key=("location_id",),
    filters=(Filter("country", "l.country_code", "=", str),),
    tables=("dim_locations",),
)

USERS_BY_COUNTRY_DAILY = Listing(
    name="users_by_country_daily",
    source="marts.users_by_country_daily u",
    columns={
        "ingested_on": ("u.ingested_on", date),
        "country": ("u.country", str),
        "user_count": ("u.user_count", int),
        "female_count": ("u.female_count", int),
        "male_count": ("u.male_count", int),
        "other_gender_count": ("u.other_gender_count", int),
        "age_under_18": ("u.age_under_18", int),
        "age_18_29": ("u.age_18_29", int),
        "age_30_44": ("u.age_30_44", int),
        "age_45_64": ("u.age_45_64", int),
        "age_65_plus": ("u.age_65_plus", int),
    },
    key=("ingested_on", "country"),
    filters=(
        Filter("country", "u.country", "=", str),
        Filter("date_from", "u.ingested_on", ">=", date),
        Filter("date_to", "u.ingested_on", "<=", date),
    ),
    tables=("users_by_country_daily",),
)

LISTINGS = {listing.name: listing for listing in (AIR_QUALITY_DAILY, LOCATIONS, USERS_BY_COUNTRY_DAILY)}


def encode_cursor(listing: Listing, row: dict) -> str:
    key = [row[k].isoformat() if isinstance(row[k], date) else row[k] for k in listing.key]
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(listing: Listing, cursor: str) -> list:
    """The key values a cursor holds, typed as the key's columns; BadRequest if it is not ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(listing.key):
            raise ValueError
        return [_typed(listing.columns[k][1], v) for k, v in zip(listing.key, values, strict=False)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this endpoint returned") from None


def _typed(kind, value):
    base = next((a for a in getattr(kind, "__args__", ()) if a is not type(None)), kind)
    if base is date:
        return date.fromisoformat(value)
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is str and isinstance(value, str):
        return value
    raise ValueError(value)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def page_sql(
    listing: Listing, filters: dict[str, Any], cursor: list | None, limit: int, placeholder: str
) -> tuple[str, list]:
    """SELECT of one page (limit + 1 rows: the extra one says whether a next page exists)."""
    select = ", ".join(f"{expr} as {name}" for name, (expr, _) in listing.columns.items())
    where, params = [], []
    for f in listing.filters:
        if filters.get(f.name) is not None:
            where.append(f"{f.column} {f.op} {placeholder}")
            params.append(filters[f.name])
    key_exprs = [listing.columns[k][0] for k in listing.key]
    if cursor is not None:
        where.append(f"({', '.join(key_exprs)}) > ({', '.join([placeholder] * len(key_exprs))})")
        params.extend(cursor)
    sql = f"select {select} from {listing.source}"
    if where:
        sql += " where " + " and ".join(where)
    sql += f" order by {', '.join(key_exprs)} limit {int(limit) + 1}"
    return sql, params


def page(listing: Listing, rows: list[dict], limit: int) -> dict:
    """{"items", "next_cursor"} from the limit + 1 rows a page query returned."""
    items = rows[:limit]
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor(listing, items[-1]) if more else None}
