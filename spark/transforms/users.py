"""Clean randomuser.me users: typed, validated, keyed on login.uuid, credentials gone.

Every raw row ends in exactly one of two places: the clean table or the quarantine table with
a reason. `flag_users` decides; the two selectors below only split its output, so the counts
add up to the raw row count (less the duplicates the clean table folds together).

The session time zone must be UTC (SparkResource sets it): timestamps are parsed with their
offset, then kept as UTC wall-clock time in TIMESTAMP_NTZ columns. try_ casts throughout, so
ANSI mode never fails a run on one bad value: the value's row is quarantined instead.
"""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.schemas.clean_users import CLEAN_USER_COLUMNS
from spark.schemas.randomuser import CORRUPT_RECORD, USER_MESSAGE
from spark.transforms.days import Day, with_day
from spark.transforms.dedupe import KAFKA_ORDER, keep_one
from spark.transforms.event_time import utc_ntz

# The clean users contract, shared with the Cassandra sink.
CLEAN_COLUMNS = list(CLEAN_USER_COLUMNS)

QUARANTINE_COLUMNS = [
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "payload",
    "reason",
    "ingested_at",
    "partition_day",
]

# One valid row per CLEAN_KEY, one rejected row per QUARANTINE_KEY (see measurements.py).
CLEAN_KEY = ("user_id",)
QUARANTINE_KEY = ("_user",)

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CREDENTIAL_KEYS = ("password", "salt", "md5", "sha1", "sha256")
# A credential key and its value: a JSON string (also one cut off by a truncated payload) or a
# bare token. A regex rather than parse -> drop -> to_json: it also cleans payloads that do not
# parse, and leaves the rest of the text byte for byte as received.
_CREDENTIAL = r'("(?:' + "|".join(CREDENTIAL_KEYS) + r')"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^,}\]\s]+)'
REDACTED = '"[redacted]"'


def redact_credentials(payload: Column) -> Column:
    """The payload with every credential value replaced by "[redacted]"."""
    return F.regexp_replace(payload, _CREDENTIAL, "$1" + REDACTED)


def _number(text: str, to: str) -> Column:
    return F.expr(f"try_cast({text} AS {to})")


def parse_users(raw: DataFrame) -> DataFrame:
    """Raw rows (payload + Kafka coordinates) -> typed columns; the payload comes out redacted."""
    doc = F.from_json("payload", USER_MESSAGE, {"columnNameOfCorruptRecord": CORRUPT_RECORD})
    user, location = "doc.user", "doc.user.location"
    fields = {  # column -> JSON path; all text, as the schema reads them
        "uuid_text": f"{user}.login.uuid",
        "gender": f"{user}.gender",
        "title": f"{user}.name.title",
        "first_name": f"{user}.name.first",
        "last_name": f"{user}.name.last",
        "email": f"{user}.email",
        "username": f"{user}.login.username",
        "dob_text": f"{user}.dob.date",
        "registered_text": f"{user}.registered.date",
        "phone": f"{user}.phone",
        "cell": f"{user}.cell",
        "nationality": f"{user}.nat",
        "street_number_text": f"{location}.street.number",
        "street_name": f"{location}.street.name",
        "city": f"{location}.city",
        "state": f"{location}.state",
        "country": f"{location}.country",
        "postcode": f"{location}.postcode",
        "latitude_text": f"{location}.coordinates.latitude",
        "longitude_text": f"{location}.coordinates.longitude",
        "timezone_offset": f"{location}.timezone.offset",
        "timezone_description": f"{location}.timezone.description",
        "id_name": f"{user}.id.name",
        "id_value": f"{user}.id.value",
        "picture_large": f"{user}.picture.large",
        "picture_medium": f"{user}.picture.medium",
        "picture_thumbnail": f"{user}.picture.thumbnail",
    }
    return (
        raw.withColumn("doc", doc)
        .withColumns({column: F.col(path) for column, path in fields.items()})
        .withColumns(
            {
                "user_id": F.lower("uuid_text"),
                "dob_utc": utc_ntz(F.col("dob_text")),
                "registered_utc": utc_ntz(F.col("registered_text")),
                "street_number": _number("street_number_text", "BIGINT"),
                "latitude": _number("latitude_text", "DOUBLE"),
                "longitude": _number("longitude_text", "DOUBLE"),
                "ingested_at": F.col("ingested_at").cast("timestamp_ntz"),
                # The last use of the original text: credentials go before any output can carry them.
                "payload": redact_credentials(F.col("payload")),
            }
        )
    )


def _bad_coordinate(text: str, value: str, bound: int) -> Column:
    # Absent coordinates pass as nulls; present ones must be numbers on the globe ("NaN" is not).
    return F.col(text).isNotNull() & ~F.coalesce(F.abs(value) <= bound, F.lit(False))


def _reject_reason() -> Column:
    """The first rule a row breaks, or null for a valid row."""
    doc = F.col("doc")
    rules = [
        (
            F.col("payload").isNull() | doc.isNull() | doc[CORRUPT_RECORD].isNotNull() | doc["user"].isNull(),
            "unparseable_payload",
        ),
        (F.col("uuid_text").isNull() | (F.trim("uuid_text") == ""), "missing_user_id"),
        (~F.col("uuid_text").rlike(UUID_PATTERN), "invalid_user_id"),
        (F.col("dob_text").isNull(), "missing_dob"),
        (F.col("dob_utc").isNull(), "invalid_dob"),
        (F.col("registered_utc").isNull(), "invalid_registered"),
        (
            _bad_coordinate("latitude_text", "latitude", 90) | _bad_coordinate("longitude_text", "longitude", 180),
            "invalid_coordinates",
        ),
        (F.col("street_number_text").isNotNull() & F.col("street_number").isNull(), "invalid_street_number"),
        (F.col("email").isNull() | (F.trim("email") == ""), "missing_email"),
    ]
    reason = F.lit(None).cast("string")
    for condition, label in reversed(rules):
        reason = F.when(condition, F.lit(label)).otherwise(reason)
    return reason


def flag_users(raw: DataFrame, day: Day) -> DataFrame:
    """Typed users of one partition day with `reason` set on every row that must not pass.

    A rejected row keeps its user object as text (`_user`): the key that folds a re-pulled
    copy in quarantine, whose fetch time and Kafka coordinates differ, the user does not.
    """
    same_user = F.when(F.col("reason").isNotNull(), F.coalesce(F.to_json("doc.user"), F.col("payload")))
    return (
        parse_users(with_day(raw, day))
        .withColumn("ingested_on", F.lit(day))
        .withColumn("reason", _reject_reason())
        .withColumn("_user", same_user)
    )


def clean_users(flagged: DataFrame) -> DataFrame:
    """Valid users, one per user_id: the latest message wins a duplicate (a re-sent day)."""
    valid = flagged.where(F.col("reason").isNull())
    return keep_one(valid, CLEAN_KEY, KAFKA_ORDER, keep="last").select(*CLEAN_COLUMNS)


def quarantined_users(flagged: DataFrame, day: Day) -> DataFrame:
    """Rejected rows as received, credentials redacted, with the reason and Kafka coordinates;
    a user pulled twice (a re-run of the day) is quarantined once, as first delivered."""
    rejected = flagged.where(F.col("reason").isNotNull()).withColumn("partition_day", F.lit(day))
    return keep_one(rejected, QUARANTINE_KEY, KAFKA_ORDER, keep="first").select(*QUARANTINE_COLUMNS)
