"""Clean web server requests from combined-format access logs.

    %h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"

A line that does not match (truncated by a rotation, another format) is quarantined with its
text, never dropped. The client address is replaced by `client_key` (HMAC-SHA256) past raw,
in the clean rows and in the quarantine's copy of the line alike.
"""

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.transforms.ecommerce.pseudonym import hmac_sha256
from spark.transforms.ecommerce.versions import first_reason, latest_versions, rejected_once

COMBINED = r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$'
REQUEST = r"^([A-Z]+) (\S+) (\S+)$"
# Log timestamps: 20/Nov/2026:10:00:00 +0000
TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"

# A log line has no identity of its own: two equal lines are two requests. One row per line
# of the latest version of each file.
CLEAN_KEY = ("source_file", "record_number")
QUARANTINE_KEY = ("source_file", "record_number")
CLEAN_COLUMNS = [
    "requested_at",
    "requested_on",
    "client_key",
    "method",
    "path",
    "protocol",
    "status",
    "response_bytes",
    "referrer",
    "user_agent",
    "source_file",
    "file_sha256",
    "record_number",
    "received_at",
]
QUARANTINE_COLUMNS = ["source_file", "file_sha256", "record_number", "payload", "reason", "partition_day"]


def _group(index: int) -> F.Column:
    return F.regexp_extract("payload", COMBINED, index)


def flag_requests(raw: DataFrame, day: date, key: bytes) -> DataFrame:
    request = _group(5)
    rows = (
        latest_versions(raw)
        .withColumn("_matches", F.col("payload").rlike(COMBINED))
        .withColumn("_client", F.regexp_extract("payload", r"^(\S+)", 1))
        .withColumn("client_key", F.when(F.col("_client") != "", hmac_sha256(F.col("_client"), key)))
        .withColumn("requested_at", F.try_to_timestamp(_group(4), F.lit(TIME_FORMAT)).cast("timestamp_ntz"))
        .withColumn("requested_on", F.to_date("requested_at"))
        .withColumn("method", F.regexp_extract(request, REQUEST, 1))
        .withColumn("path", F.regexp_extract(request, REQUEST, 2))
        .withColumn("protocol", F.regexp_extract(request, REQUEST, 3))
        .withColumn("_status", _group(6))
        .withColumn("_bytes", F.when(_group(7) != "-", _group(7)).otherwise(F.lit("0")))
        .withColumn("status", F.expr("try_cast(_status as int)"))
        .withColumn("response_bytes", F.expr("try_cast(_bytes as bigint)"))
        .withColumn("referrer", F.when(_group(8) != "-", _group(8)))
        .withColumn("user_agent", _group(9))
    )
    rules = [
        (~F.col("_matches"), "not_combined_log_format"),
        (F.col("requested_at").isNull(), "invalid_timestamp"),
        (F.col("requested_on") != F.lit(day), "outside_partition_day"),
        (F.col("method") == "", "invalid_request_line"),
    ]
    # The address is the line's first token whatever the rest holds: the copy kept gets the key.
    pseudonymised = F.expr("concat(client_key, substring(payload, length(_client) + 1))")
    return (
        rows.withColumn("reason", first_reason(rules))
        .withColumn("payload", F.when(F.col("_client") != "", pseudonymised).otherwise(F.col("payload")))
        .drop("_matches", "_client", "_status", "_bytes", "fields")
    )


def clean_requests(flagged: DataFrame) -> DataFrame:
    return flagged.where("reason is null").select(*CLEAN_COLUMNS)


def quarantined_requests(flagged: DataFrame, day: date) -> DataFrame:
    return rejected_once(flagged, day, QUARANTINE_KEY, QUARANTINE_COLUMNS)
