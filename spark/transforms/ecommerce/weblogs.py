r"""Clean web server requests from combined-format access logs.

    %h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"

As real servers write it: a quoted field may hold escaped quotes (Apache `\"` and `\\`, nginx
`\x22` and `\x5C`; other `\xHH` escapes are kept as written); a request line of `-` (the
client sent none: a 400 or 408) is a request with null method, path and protocol; `%h` may be
an IPv6 address; `%b` of `-` (no body) is a null `response_bytes`, never 0; fields appended
after the user agent (nginx `log_format` extensions such as `$request_time`) are ignored; a
line with bytes that are not UTF-8 is kept (decoded with U+FFFD) and flagged `invalid_utf8`.
A line that does not match (truncated by a rotation, another format) is quarantined with its
text, never dropped. The client address is replaced by `client_key` (HMAC-SHA256) past raw,
in the clean rows and in the quarantine's copy of the line alike.
"""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.schemas.clean_ecommerce import CLEAN_REQUESTS, QUARANTINE
from spark.schemas.columns import names
from spark.transforms.days import Day
from spark.transforms.ecommerce.pseudonym import hmac_sha256
from spark.transforms.ecommerce.versions import first_reason, latest_versions, rejected_once

# A quoted field: any character but a quote or backslash, or a backslash and what it escapes
# (possessive: a line that does not match fails in linear time).
QUOTED = r'"((?:[^"\\]|\\.)*+)"'
COMBINED = rf"^(\S+) (\S+) (\S+) \[([^\]]+)\] {QUOTED} (\d{{3}}) (\d+|-) {QUOTED} {QUOTED}(?: .*)?$"
REQUEST = r"^([A-Z]+) (\S+)(?: (HTTP/\S+))?$"
REPLACEMENT_CHARACTER = "\ufffd"
# Log timestamps: 20/Nov/2026:10:00:00 +0000
TIME_FORMAT = "dd/MMM/yyyy:HH:mm:ss Z"

# A log line has no identity of its own: two equal lines are two requests. One row per line
# of the latest version of each file.
CLEAN_KEY = ("source_file", "record_number")
QUARANTINE_KEY = ("source_file", "record_number")
CLEAN_COLUMNS = list(names(CLEAN_REQUESTS))
QUARANTINE_COLUMNS = list(names(QUARANTINE))


def _group(index: int) -> F.Column:
    return F.regexp_extract("payload", COMBINED, index)


def unescape(field: F.Column) -> F.Column:
    r"""A quoted field's text: Apache's `\"`/`\\` first, then nginx's `\x22`/`\x5C` (so an
    nginx `\x5C\x22` stays a backslash and a quote). The line does not say which server wrote
    it: an Apache field holding the four characters `\x22` literally reads as a quote."""
    apache = F.regexp_replace(field, r'\\(["\\])', "$1")
    return F.regexp_replace(F.regexp_replace(apache, r"\\x22", '"'), r"\\x5[cC]", r"\\\\")


def _unless_dash(field: F.Column) -> F.Column:
    return F.when(field != "-", field)


def flag_requests(raw: DataFrame, day: Day, key: bytes) -> DataFrame:
    request = unescape(_group(5))
    no_request = request == "-"
    rows = (
        latest_versions(raw, day)
        .withColumn("_matches", F.col("payload").rlike(COMBINED))
        .withColumn("_client", F.regexp_extract("payload", r"^(\S+)", 1))
        .withColumn("client_key", F.when(F.col("_client") != "", hmac_sha256(F.col("_client"), key)))
        .withColumn("requested_at", F.try_to_timestamp(_group(4), F.lit(TIME_FORMAT)).cast("timestamp_ntz"))
        .withColumn("requested_on", F.to_date("requested_at"))
        .withColumn("_request_ok", no_request | request.rlike(REQUEST))
        .withColumn("method", F.when(~no_request, F.regexp_extract(request, REQUEST, 1)))
        .withColumn("path", F.when(~no_request, F.regexp_extract(request, REQUEST, 2)))
        .withColumn("protocol", F.when(~no_request, F.regexp_extract(request, REQUEST, 3)))
        .withColumn("protocol", F.when(F.col("protocol") != "", F.col("protocol")))  # HTTP/0.9: none
        .withColumn("status", _group(6).try_cast("int"))
        .withColumn("response_bytes", _unless_dash(_group(7)).try_cast("bigint"))
        .withColumn("referrer", _unless_dash(unescape(_group(8))))
        .withColumn("user_agent", _unless_dash(unescape(_group(9))))
        .withColumn("invalid_utf8", F.col("payload").contains(REPLACEMENT_CHARACTER))
    )
    rules = [
        (~F.col("_matches"), "not_combined_log_format"),
        (F.col("requested_at").isNull(), "invalid_timestamp"),
        (F.col("requested_on") != F.lit(day), "outside_partition_day"),
        (~F.col("_request_ok"), "invalid_request_line"),
        (~F.col("status").between(100, 599), "invalid_status"),
    ]
    # The address is the line's first token whatever the rest holds: the copy kept gets the key.
    pseudonymised = F.expr("concat(client_key, substring(payload, length(_client) + 1))")
    return (
        rows.withColumn("reason", first_reason(rules))
        .withColumn("payload", F.when(F.col("_client") != "", pseudonymised).otherwise(F.col("payload")))
        .drop("_matches", "_client", "_request_ok", "fields")
    )


def clean_requests(flagged: DataFrame) -> DataFrame:
    return flagged.where("reason is null").select(*CLEAN_COLUMNS)


def quarantined_requests(flagged: DataFrame, day: Day) -> DataFrame:
    return rejected_once(flagged, day, QUARANTINE_KEY, QUARANTINE_COLUMNS)
