"""The partition day as a column, so a transform cleans one day or a whole range alike.

A clean step reads a range of raw days as one frame, each row stamped with its day in
`partition_day` (assets/clean_zone.py), and calls the transforms with `day` = that column; a
caller with one day passes the date. `F.lit` of a Column is the column itself, so `F.lit(day)`
is the row's own day either way, and `with_day` stamps a one-day frame or leaves a range's
column as it is. Whatever folds rows (a window, a dedupe) also partitions by the day: a range
then gives every day exactly what cleaning that day alone gives.
"""

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

DAY = "partition_day"

Day = date | Column


def with_day(raw: DataFrame, day: Day) -> DataFrame:
    """`raw` with each row's partition day in `partition_day`."""
    return raw.withColumn(DAY, F.lit(day))
