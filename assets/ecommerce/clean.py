"""Spark-cleaned e-commerce tables: typed, UTC, deduplicated, PII pseudonymised, with a
quarantine per source holding the record as received and the reason.

Only the latest version of each landed file is read (spark/transforms/ecommerce/versions.py),
so a corrected export replaces its predecessor's rows; both outcomes replace the day in the
lake and the warehouse's `clean` schema (assets/clean_zone.py), so re-running changes nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Protocol

import dagster as dg
from pyspark.sql import DataFrame

from assets.clean_zone import clean_day, clean_results
from assets.ecommerce.sources import GROUP, OWNER, SOCIAL, TRANSACTIONS, WEBLOGS, Source
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, Spark, Warehouse
from spark.transforms.ecommerce import orders, social, weblogs


class PseudonymKey(Protocol):
    def key_bytes(self) -> bytes: ...


@dataclass(frozen=True)
class CleanStep:
    """One source's clean step: its transforms, keys and the column naming the day."""

    source: Source
    flag: Callable[..., DataFrame]  # (raw, day, key) -> rows with `reason`
    keep: Callable[[DataFrame], DataFrame]
    quarantine: Callable[[DataFrame, date], DataFrame]
    keys: tuple[Sequence[str], Sequence[str]]
    day_column: str
    clean_columns: Sequence[str]
    description: str


STEPS = (
    CleanStep(
        TRANSACTIONS,
        orders.flag_orders,
        orders.clean_orders,
        orders.quarantined_orders,
        (orders.CLEAN_KEY, orders.QUARANTINE_KEY),
        "ordered_on",
        orders.CLEAN_COLUMNS,
        "Order lines: one row per (order_id, order_line), UTC, latest file version wins; customer_email "
        "replaced by customer_key (HMAC-SHA256).",
    ),
    CleanStep(
        WEBLOGS,
        weblogs.flag_requests,
        weblogs.clean_requests,
        weblogs.quarantined_requests,
        (weblogs.CLEAN_KEY, weblogs.QUARANTINE_KEY),
        "requested_on",
        weblogs.CLEAN_COLUMNS,
        "Web server requests from combined-format logs, UTC; client IP replaced by client_key (HMAC-SHA256).",
    ),
    CleanStep(
        SOCIAL,
        social.flag_posts,
        social.clean_posts,
        social.quarantined_posts,
        (social.CLEAN_KEY, social.QUARANTINE_KEY),
        "created_on",
        social.CLEAN_COLUMNS,
        "Social posts: one row per post id, UTC, hashtags and mentions as space-separated lower-case text.",
    ),
)


def _spec(key: dg.AssetKey, source: Source, description: str, columns: Sequence[str]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=[source.raw_key],
        description=description,
        group_name=GROUP,
        owners=[OWNER],
        kinds={"spark", "parquet"},
        metadata={"dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(c) for c in columns])},
    )


def clean_asset(step: CleanStep) -> dg.AssetsDefinition:
    source = step.source
    quarantine_key = dg.AssetKey(["clean", source.quarantine_table])

    @dg.multi_asset(
        name=f"clean_{source.clean_table}",
        specs=[
            _spec(source.clean_key, source, step.description, step.clean_columns),
            _spec(
                quarantine_key,
                source,
                f"Records of the {source.name} files that failed validation, as received (PII pseudonymised), "
                "with the reason.",
                ["source_file", "file_sha256", "record_number", "payload", "reason", "partition_day"],
            ),
        ],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
    )
    def _clean(
        context: dg.AssetExecutionContext,
        spark: dg.ResourceParam[Spark],
        lake: dg.ResourceParam[Lake],
        warehouse: dg.ResourceParam[Warehouse],
        pseudonym_key: dg.ResourceParam[PseudonymKey],
    ):
        session = spark.get_session()
        flag = partial(step.flag, key=pseudonym_key.key_bytes())
        per_day = {}
        for day in partition_days(context):
            per_day[day.isoformat()] = clean_day(
                session,
                lake,
                warehouse,
                day,
                source.raw_key.path,
                flag,
                step.keep,
                step.quarantine,
                (source.clean_table, source.quarantine_table),
                step.day_column,
                step.keys,
            )
            context.log.info(f"clean {source.name} {day}: {per_day[day.isoformat()]}")
        yield from clean_results(source.clean_key.path, quarantine_key.path, per_day)

    return _clean


clean_assets = [clean_asset(step) for step in STEPS]
