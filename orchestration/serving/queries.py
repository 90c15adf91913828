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
from datetime import date, datetime
from typing import Any

from orchestration.serving.money import Amount, Micros

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


def _days(column: str) -> tuple[Filter, Filter]:
    """The day range every daily listing takes: `date_from` and `date_to`, both inclusive."""
    return Filter("date_from", column, ">=", date), Filter("date_to", column, "<=", date)


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


# The e-commerce marts. Keys are the marts' own grain (their dbt unique tests), so a keyset page
# never splits or repeats a row. Money is declared Amount (decimal(18,2)) or Micros
# (decimal(18,6)) and served as a string at that scale.
SALES_DAILY = Listing(
    name="sales_daily",
    source="marts.agg_sales_daily s",
    columns={
        "ordered_on": ("s.ordered_on", date),
        "category": ("s.category", str),
        "currency": ("s.currency", str),
        "orders": ("s.orders", int),
        "items": ("s.items", int),
        "revenue": ("s.revenue", Amount),
        "cancelled_or_returned_lines": ("s.cancelled_or_returned_lines", int),
    },
    key=("ordered_on", "category", "currency"),
    filters=(
        Filter("category", "s.category", "=", str),
        Filter("currency", "s.currency", "=", str),
        *_days("s.ordered_on"),
    ),
    tables=("agg_sales_daily",),
)

CAMPAIGNS_DAILY = Listing(
    name="campaigns_daily",
    source="marts.agg_campaign_daily c",
    columns={
        "event_date": ("c.event_date", date),
        "campaign_id": ("c.campaign_id", str),
        "campaign_name": ("c.campaign_name", str | None),
        "channel": ("c.channel", str | None),
        "is_known_campaign": ("c.is_known_campaign", bool),
        "impressions": ("c.impressions", int),
        "clicks": ("c.clicks", int),
        "conversions": ("c.conversions", int),
        "late_events": ("c.late_events", int),
        "spend": ("c.spend", Micros),
        "revenue": ("c.revenue", Micros),
        "ctr": ("c.ctr", float | None),
        "cpc": ("c.cpc", Micros | None),
        "conversion_rate": ("c.conversion_rate", float | None),
        "roas": ("c.roas", Micros | None),
        "attributed_orders": ("c.attributed_orders", int),
        "attributed_order_revenue": ("c.attributed_order_revenue", Amount),
    },
    key=("event_date", "campaign_id"),
    filters=(
        Filter("campaign_id", "c.campaign_id", "=", str),
        Filter("channel", "c.channel", "=", str),
        *_days("c.event_date"),
    ),
    tables=("agg_campaign_daily",),
)

WEB_TRAFFIC_DAILY = Listing(
    name="web_traffic_daily",
    source="marts.agg_web_traffic_daily w",
    columns={
        "requested_on": ("w.requested_on", date),
        "requests": ("w.requests", int),
        "unique_visitors": ("w.unique_visitors", int),
        "client_error_rate": ("w.client_error_rate", float),
        "server_error_rate": ("w.server_error_rate", float),
        "top_paths": ("w.top_paths", str | None),
    },
    key=("requested_on",),
    filters=_days("w.requested_on"),
    tables=("agg_web_traffic_daily",),
)

SOCIAL_MENTIONS_DAILY = Listing(
    name="social_mentions_daily",
    source="marts.agg_social_mentions_daily m",
    columns={
        "created_on": ("m.created_on", date),
        "platform": ("m.platform", str),
        "posts": ("m.posts", int),
        "posts_with_mentions": ("m.posts_with_mentions", int),
        "engagement": ("m.engagement", int),
        "top_hashtags": ("m.top_hashtags", str | None),
    },
    key=("created_on", "platform"),
    filters=(Filter("platform", "m.platform", "=", str), *_days("m.created_on")),
    tables=("agg_social_mentions_daily",),
)

# Not a mart: the table the catalogue asset writes (assets/ecommerce/catalog.py), one row per
# file version; (source, source_file, file_sha256) is unique and the path holds the day.
CATALOG_FILES = Listing(
    name="catalog_files",
    source="catalog.ingested_files f",
    columns={
        "landed_on": ("f.landed_on", date),
        "source": ("f.source", str),
        "source_file": ("f.source_file", str),
        "file_sha256": ("f.file_sha256", str),
        "file_bytes": ("f.file_bytes", int),
        "first_seen_at": ("f.first_seen_at", datetime),
        "ingest_run_id": ("f.ingest_run_id", str),
        "rows_in": ("f.rows_in", int),
        "rows_clean": ("f.rows_clean", int),
        "rows_quarantined": ("f.rows_quarantined", int),
        "is_current": ("f.is_current", bool),
    },
    key=("landed_on", "source", "source_file", "file_sha256"),
    filters=(
        Filter("source", "f.source", "=", str),
        Filter("file_sha256", "f.file_sha256", "=", str),
        *_days("f.landed_on"),
    ),
    tables=("catalog.ingested_files",),
)

LISTINGS = {
    listing.name: listing
    for listing in (
        AIR_QUALITY_DAILY,
        LOCATIONS,
        USERS_BY_COUNTRY_DAILY,
        SALES_DAILY,
        CAMPAIGNS_DAILY,
        WEB_TRAFFIC_DAILY,
        SOCIAL_MENTIONS_DAILY,
        CATALOG_FILES,
    )
}


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


def check_range(filters: dict[str, Any]) -> None:
    """An inverted day range is a client's mistake, not an empty answer."""
    start, end = filters.get("date_from"), filters.get("date_to")
    if start is not None and end is not None and start > end:
        raise BadRequest(f"date_from ({start}) is after date_to ({end})")


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
