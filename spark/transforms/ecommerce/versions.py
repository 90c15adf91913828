"""File versions in the raw zone: the latest version of each landed file wins.

Every version of a file is kept in the raw zone (named by its SHA-256); a corrected export with
the same name is a new version received later, and it replaces the old one's rows: only the
rows of each file's latest version reach the clean step.
"""

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.transforms.days import DAY, Day, with_day
from spark.transforms.dedupe import keep_one

# Columns of every raw ecommerce table (assets/ecommerce/records.py writes them).
FILE_COLUMNS = ["source_file", "file_sha256", "received_at", "record_number"]
# The files' order, as KAFKA_ORDER is the topics': the time the file was received, then its
# place (the file's name, then the record's number in it), so a tie resolves the same every run.
FILE_ORDER = ("received_at", "source_file", "record_number")


def latest_versions(raw: DataFrame, day: Day) -> DataFrame:
    """The rows of each source file's latest version (received last; the hash breaks a tie) of
    each partition day, stamped with that day (spark/transforms/days.py)."""
    raw = with_day(raw, day)
    versions = keep_one(
        raw.select(DAY, "source_file", "file_sha256", "received_at").distinct(),
        ["source_file"],
        ["received_at", "file_sha256"],
        keep="last",
    ).select(DAY, "source_file", "file_sha256")
    return raw.join(F.broadcast(versions), [DAY, "source_file", "file_sha256"], "left_semi")


def first_reason(rules: list) -> F.Column:
    """The label of the first (condition, label) a row meets, or null for a valid row."""
    reason = F.lit(None).cast("string")
    for condition, label in reversed(rules):
        reason = F.when(condition, F.lit(label)).otherwise(reason)
    return reason


def blank_to_null(text: F.Column) -> F.Column:
    trimmed = F.trim(text)
    return F.when(trimmed != "", trimmed)


def latest_received(flagged: DataFrame, key: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """The valid rows, one per `key`: the latest received file (then the later record) wins."""
    return keep_one(flagged.where("reason is null"), key, FILE_ORDER, keep="last").select(*columns)


def rejected_once(flagged: DataFrame, day: Day, key: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """The rejected rows as received, one per `key` (the first received), stamped with the
    partition day."""
    rejected = flagged.where("reason is not null").withColumn("partition_day", F.lit(day))
    return keep_one(rejected, key, FILE_ORDER, keep="first").select(*columns)
