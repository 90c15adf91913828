"""Event times in Spark, by the rule of assets/core/event_time.py (`parse_utc`)."""

from pyspark.sql import Column
from pyspark.sql import functions as F

from spark.schemas.event_time import STAMP

# Java's find() semantics need anchors; \z, not $, which Java also matches before a final "\n".
_STAMP = "^(?:" + STAMP + r")\z"


def utc_ntz(text: Column) -> Column:
    """A stamp of the shared grammar ("Z" or an offset; none means UTC) as UTC wall clock
    (timestamp_ntz, which DuckDB and PostgreSQL store without reinterpretation), else null.

    `try_to_timestamp` reads a stamp without an offset in the session time zone: every session
    runs in UTC (SESSION_CONF in orchestration/resources/spark.py, the Connect server's conf)."""
    return F.when(text.rlike(_STAMP), F.try_to_timestamp(text)).cast("timestamp_ntz")
