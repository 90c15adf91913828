"""Which copy of a row a clean step keeps: the one dedupe every transform calls.

A row is kept once per key within its partition day (`DAY` is always part of the window, so a
range cleaned in one pass keeps per day what each day alone keeps: spark/transforms/days.py).
Which copy wins is an explicit, total order and a direction: the first or the last copy in that
order. A transform chooses the direction (its stream's rule: the latest fetch, the first
delivery); the Kafka streams share one order, `KAFKA_ORDER`. A quarantine keeps the first copy
of a rejected message: `dropDuplicates` would keep whichever copy Spark met first, so a re-run
could show other Kafka coordinates for the same rows.
"""

from collections.abc import Sequence
from typing import Literal

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark.transforms.days import DAY

# Landing time, then the message's place in the topic. Partition before offset: an offset only
# orders messages within its partition, so offsets of two partitions compared first would mix
# two unrelated counters; the partition only has to make copies landed at the same instant in
# different partitions resolve the same way every run. Within a partition the offset is the
# broker's own order of arrival, so "last" is the latest message and "first" the first delivery.
KAFKA_ORDER = ("ingested_at", "kafka_partition", "kafka_offset")

Keep = Literal["first", "last"]

_RANK = "_dedupe_rank"


def keep_one(rows: DataFrame, key: Sequence[str], order: Sequence[str], keep: Keep) -> DataFrame:
    """`rows` with one row per partition day x `key`: the first or the last of its copies by
    `order` (columns compared in turn; a null counts as the smallest value). The columns are
    those of `rows`, with no helper column left."""
    if not order or keep not in ("first", "last"):
        raise ValueError(f"a dedupe needs an order and keep='first' or 'last', got {order!r}, {keep!r}")
    direction = F.asc if keep == "first" else F.desc
    window = Window.partitionBy(DAY, *key).orderBy(*(direction(column) for column in order))
    return rows.withColumn(_RANK, F.row_number().over(window)).where(F.col(_RANK) == 1).drop(_RANK)
