"""The sinks' row mappings: a landed OpenAQ row -> its MongoDB document, a clean user -> its
Cassandra row. Pure, so the stores (orchestration/resources) only write what these return."""

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson

from assets.core.event_time import parse_utc
from spark.schemas.clean_users import CLEAN_USER_COLUMNS

# --- MongoDB: raw OpenAQ measurements ------------------------------------------------------

LANDED_COLUMNS = ("payload", "kafka_topic", "kafka_partition", "kafka_offset")
HELPER_FIELDS = ("location_id", "sensor_id", "parameter_id", "parameter_name", "period_end")


def landed_documents(columns: Mapping[str, Sequence]) -> list[dict]:
    """Landed rows, by column (LANDED_COLUMNS), as the documents consumed: each one's JSON
    plus its Kafka coordinates. Column-wise: a million-row day builds no dict per row first."""
    docs = []
    for payload, topic, partition, offset in zip(*(columns[name] for name in LANDED_COLUMNS), strict=True):
        doc = orjson.loads(payload)
        doc["kafka"] = {"topic": topic, "partition": partition, "offset": offset}
        docs.append(doc)
    return docs


def _at(doc, *keys):
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


@functools.lru_cache(maxsize=16_384)
def canonical_end(stamp: str) -> tuple[datetime, str] | None:
    """(period end, its canonical UTC text) of a `datetimeTo.utc` stamp, or None if it is not ISO
    8601. BSON datetimes hold milliseconds: truncating here keeps the _id and period_end in step.
    Cached, as a day's measurements share a few hundred period ends across all their sensors."""
    end = parse_utc(stamp)
    if end is None:
        return None
    end = end.replace(microsecond=end.microsecond // 1000 * 1000)
    fraction = f".{end.microsecond // 1000:03d}" if end.microsecond else ""
    return end, f"{end:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def to_stored(doc: dict) -> dict:
    """The stored form of one consumed document; ValueError(reason) when it cannot have an id.
    The id's period end is canonical (`2024-01-01T00:00:00Z`): "Z" and "+00:00" give one id."""
    if not isinstance(doc, dict):
        raise ValueError(f"not a JSON object: {type(doc).__name__}")
    sensor_id, measurement = doc.get("sensor_id"), doc.get("measurement")
    if isinstance(sensor_id, bool) or not isinstance(sensor_id, int):
        raise ValueError(f"sensor_id missing or not an integer: {sensor_id!r}")
    stamp = _at(measurement, "period", "datetimeTo", "utc")
    canonical = canonical_end(stamp) if isinstance(stamp, str) else None
    if canonical is None:
        raise ValueError(f"period end (datetimeTo.utc) missing or not ISO 8601: {stamp!r}")
    end, end_text = canonical
    return {
        "_id": f"{sensor_id}:{end_text}",
        "location_id": doc.get("location_id"),
        "sensor_id": sensor_id,
        "parameter_id": _at(measurement, "parameter", "id"),
        "parameter_name": _at(measurement, "parameter", "name"),
        "period_end": end,
        "raw": doc,
    }


def period_end_of_id(doc_id: str) -> datetime | None:
    """The period end that a document id of `to_stored` names, or None for any other string."""
    sensor, sep, end_text = doc_id.partition(":")
    canonical = canonical_end(end_text) if sep and sensor.lstrip("-").isdigit() else None
    return canonical[0] if canonical is not None and canonical[1] == end_text else None


# --- Cassandra: clean users ----------------------------------------------------------------
# Keyspace `spark_streams`, table `created_users`, as in the original Spark streaming job: its
# columns keep their names and meaning (id, post_code, registered_date, picture, address), the
# rest of the clean users contract is added under its own name.

_RENAMED = {
    "user_id": "id",
    "postcode": "post_code",
    "registered_utc": "registered_date",
    "picture_medium": "picture",
    "dob_utc": "dob",
}
_TYPES = {
    "user_id": "uuid",
    "dob_utc": "timestamp",
    "registered_utc": "timestamp",
    "street_number": "int",
    "latitude": "double",
    "longitude": "double",
    "ingested_on": "date",
    "ingested_at": "timestamp",
}
# (column, CQL type, clean users field); the order is the INSERT's bind order. `address` is
# built from the street, city, state and country, as the original job did.
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    *((_RENAMED.get(f, f), _TYPES.get(f, "text"), f) for f in CLEAN_USER_COLUMNS),
    ("address", "text", None),
)


def user_values(row: dict) -> tuple:
    """One clean users row as the INSERT's bind values, in `COLUMNS` order."""
    missing = set(CLEAN_USER_COLUMNS) - row.keys()
    if missing:
        raise ValueError(f"user row {row.get('user_id')!r} lacks {sorted(missing)}")
    street = " ".join(str(p) for p in (row["street_number"], row["street_name"]) if p is not None)
    computed = {  # by column
        # The driver binds uuid columns from uuid.UUID only; a string id is parsed (and checked) here.
        "id": row["user_id"] if isinstance(row["user_id"], uuid.UUID) else uuid.UUID(row["user_id"]),
        # randomuser sends some postcodes as numbers; the column is text, as in the original job.
        "post_code": None if row["postcode"] is None else str(row["postcode"]),
        "address": ", ".join(p for p in (street, row["city"], row["state"], row["country"]) if p),
    }
    return tuple(computed[col] if col in computed else row[field] for col, _, field in COLUMNS)
