"""Plausibility rules for measurements, read from the dbt seeds that hold them.

`dbt/seeds/measurement_bounds.csv` and `measurement_sentinels.csv` are the one table of rules:
dbt loads them into the warehouse and tests the marts against them; this step reads the same
files, so the quarantine and the tests cannot drift apart.
"""

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

BOUNDS_FILE = "measurement_bounds.csv"
SENTINELS_FILE = "measurement_sentinels.csv"
BOUNDS_SCHEMA = "parameter_name string, units string, min_value double, max_value double"
SENTINELS_SCHEMA = "sentinel_value double"


@dataclass(frozen=True)
class Plausibility:
    bounds: DataFrame  # parameter_name, units, min_value, max_value (inclusive)
    sentinels: tuple[float, ...]


def read_plausibility(session: SparkSession, seeds_dir: Path | str) -> Plausibility:
    """The rules from the seed folder; an empty or unreadable table fails the step, since
    checking against no bounds would quarantine every row as unknown_units."""
    seeds = Path(seeds_dir)
    bounds = (
        session.read.option("header", True)
        .option("encoding", "UTF-8")
        .option("mode", "FAILFAST")
        .schema(BOUNDS_SCHEMA)
        .csv(str(seeds / BOUNDS_FILE))
    )
    rows = bounds.collect()
    if not rows or any(r.min_value is None or r.max_value is None for r in rows):
        raise ValueError(f"{seeds / BOUNDS_FILE}: no bounds, or a row without min/max")
    sentinels = (
        session.read.option("header", True)
        .option("mode", "FAILFAST")
        .schema(SENTINELS_SCHEMA)
        .csv(str(seeds / SENTINELS_FILE))
        .collect()
    )
    # Collected and rebuilt: a few dozen rows, so the rules are fixed for the step and the
    # join below is a broadcast of a local relation, not a re-read of the CSV per action.
    frozen = session.createDataFrame(rows, BOUNDS_SCHEMA)
    return Plausibility(frozen, tuple(r.sentinel_value for r in sentinels))


def with_bounds(parsed: DataFrame, rules: Plausibility) -> DataFrame:
    """`_min_value`/`_max_value` of each row's parameter and units; null when no rule exists."""
    bounds = rules.bounds.select(
        F.col("parameter_name").alias("_bound_name"),
        F.col("units").alias("_bound_units"),
        F.col("min_value").alias("_min_value"),
        F.col("max_value").alias("_max_value"),
    )
    matches = (parsed["parameter_name"] == bounds["_bound_name"]) & (parsed["units"] == bounds["_bound_units"])
    return parsed.join(F.broadcast(bounds), matches, "left").drop("_bound_name", "_bound_units")


def plausibility_rules(rules: Plausibility) -> list[tuple[Column, Column]]:
    """(condition, reason) after the parse rules: sentinel first, as -999 is also out of bounds
    for a concentration and the sentinel is the truer reason."""
    value = F.col("value")
    return [
        (value.isin(*rules.sentinels) if rules.sentinels else F.lit(False), F.lit("sentinel_value")),
        (F.col("_min_value").isNull(), F.lit("unknown_units")),
        ((value < F.col("_min_value")) | (value > F.col("_max_value")), F.lit("implausible_value")),
    ]
