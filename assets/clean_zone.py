"""A Spark clean step: validate one raw day, fold duplicates, and hand the clean and quarantine
frames of each day to the lake IO manager, which replaces the day in the lake and the warehouse.

A step is configuration (`CleanStep`): the raw table it reads, the three transforms, the two
tables it writes and their keys. `clean_asset` turns one into the multi-asset.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import dagster as dg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from assets.core.lake_days import LakeDays
from assets.lake_io import LAKE_IO, lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Spark


@dataclass(frozen=True)
class CleanStep:
    """`flag` sets a reason on every row that must not pass; `keep` folds the valid rows to one
    per clean key; `quarantine` keeps one rejected row per quarantine key."""

    raw: tuple[str, str]
    clean: tuple[str, str]
    quarantine: tuple[str, str]
    flag: Callable[[DataFrame, date], DataFrame]
    keep: Callable[[DataFrame], DataFrame]
    reject: Callable[[DataFrame, date], DataFrame]
    partition_column: str  # of the clean table; the quarantine's is `partition_day`
    clean_key: Sequence[str]
    quarantine_key: Sequence[str]


def table_spec(key: Sequence[str], deps: list, description: str, group: str, partition_column: str) -> dg.AssetSpec:
    """A table of the clean zone: lake Parquet plus its warehouse copy, keyed by `partition_column`."""
    return dg.AssetSpec(
        list(key),
        deps=deps,
        description=description,
        group_name=group,
        kinds={"spark", "parquet"},
        metadata={"partition_column": partition_column},
    ).with_io_manager_key(LAKE_IO)


def output_name(key: Sequence[str]) -> str:
    return dg.AssetKey(list(key)).to_python_identifier()


def reason_counts(flagged: DataFrame) -> dict[str, int]:
    rows = flagged.where("reason is not null").groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}


def rows_and_keys(flagged: DataFrame, clean_key: Sequence[str], quarantine_key: Sequence[str]) -> dict[str, int]:
    """Valid and rejected rows and their distinct keys, counted in one pass over the flagged
    rows. A key is counted as a struct, so null parts compare equal, as the dedupe
    (`dropDuplicates`) treats them; a bare countDistinct would skip a key with a null part."""
    valid = F.col("reason").isNull()
    counted = flagged.agg(
        F.count(F.when(valid, 1)).alias("valid_rows"),
        F.count_distinct(F.when(valid, F.struct(*clean_key))).alias("valid_keys"),
        F.count(F.when(~valid, 1)).alias("rejected_rows"),
        F.count_distinct(F.when(~valid, F.struct(*quarantine_key))).alias("rejected_keys"),
    ).first()
    return counted.asDict()


def clean_day(step: CleanStep, raw: DataFrame, day: date) -> tuple[dict, DataFrame, DataFrame, DataFrame]:
    """Validate one raw day: (the day's counts, clean frame, quarantine frame, the cached
    flagged frame both are selected from: the caller unpersists it once they are written).

    Every figure is counted from the frames themselves; duplicates from the flagged rows (rows -
    distinct keys), never derived from what was written, so the loss accounting
    (assets/accounting.py) can find a row gone missing.
    """
    flagged = step.flag(raw, day).persist()
    counted = rows_and_keys(flagged, step.clean_key, step.quarantine_key)
    clean, quarantined = step.keep(flagged), step.reject(flagged, day)
    counts = {
        **counted,
        "duplicates": (counted["valid_rows"] - counted["valid_keys"])
        + (counted["rejected_rows"] - counted["rejected_keys"]),
        "clean_rows": clean.count(),
        "quarantined_rows": quarantined.count(),
        "quarantine_reasons": reason_counts(flagged),
    }
    return counts, clean, quarantined, flagged


def clean_outputs(step: CleanStep, session: SparkSession, raw: LakeDays, days: list[date], log) -> Iterator[dg.Output]:
    """Both outputs of a clean step over its days, with totals. The IO manager writes each
    output as it is yielded, so the flagged frames stay cached until both are written."""
    per_day, clean, quarantined, cached = {}, {}, {}, []
    try:
        for day in days:
            counts, clean[day], quarantined[day], flagged = clean_day(step, session.read.parquet(raw.path(day)), day)
            cached.append(flagged)
            per_day[day.isoformat()] = {"raw_rows": raw.rows(day), **counts}
            log.info(f"clean {'/'.join(step.clean)} {day}: {counts}")
        counted = ("raw_rows", "clean_rows", "quarantined_rows", "duplicates")
        totals = {k: sum(d[k] for d in per_day.values()) for k in counted}
        yield dg.Output(
            clean,
            output_name=output_name(step.clean),
            metadata={"dagster/row_count": totals["clean_rows"], **totals, "per_day": per_day},
        )
        yield dg.Output(
            quarantined,
            output_name=output_name(step.quarantine),
            metadata={"dagster/row_count": totals["quarantined_rows"]},
        )
    finally:
        for frame in cached:
            frame.unpersist()


def clean_asset(
    step: CleanStep,
    name: str,
    group: str,
    descriptions: tuple[str, str],
    extra_deps: Sequence[Sequence[str]] = (),
    prepare: Callable[[SparkSession, CleanStep], CleanStep] | None = None,
) -> dg.AssetsDefinition:
    """The multi-asset of one clean step; `prepare` may bind per-run inputs into the step
    (the plausibility rules the measurements step reads with Spark)."""
    deps = [list(step.raw), *(list(d) for d in extra_deps)]

    @dg.multi_asset(
        name=name,
        specs=[
            table_spec(step.clean, deps, descriptions[0], group, step.partition_column),
            table_spec(step.quarantine, deps, descriptions[1], group, "partition_day"),
        ],
        ins={"raw": lake_input(step.raw)},
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        pool="spark",
    )
    def _clean(context: dg.AssetExecutionContext, spark: dg.ResourceParam[Spark], raw: LakeDays):
        session = spark.get_session()
        bound = prepare(session, step) if prepare else step
        yield from clean_outputs(bound, session, raw, partition_days(context), context.log)

    return _clean
