"""Event times read from the sources' text: one parser for the producers, the Mongo sink and
every other reader of an API time stamp.

The OpenAQ fields are UTC by name (`datetimeFrom.utc`), so a stamp without an offset is read as
UTC, never as the machine's local time. Which texts are stamps is the grammar of
spark/schemas/event_time.py, which Spark's `utc_ntz` (spark/transforms/event_time.py) applies too:
both give the same verdict on every text (tests/spark/test_event_time.py).
"""

import re
from datetime import UTC, datetime

from spark.schemas.event_time import STAMP

_STAMP = re.compile(STAMP)


def parse_utc(text) -> datetime | None:
    """An ISO 8601 stamp ("Z" or an offset; none means UTC) as an aware UTC datetime, or None."""
    if not isinstance(text, str) or _STAMP.fullmatch(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)


def _at(doc, *keys):
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def period_start(measurement) -> datetime | None:
    """An OpenAQ measurement's event time: the start of its period."""
    return parse_utc(_at(measurement, "period", "datetimeFrom", "utc"))
