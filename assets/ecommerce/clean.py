"""Spark-cleaned e-commerce tables: typed, UTC, deduplicated, PII pseudonymised, with a
quarantine per source holding the record as received and the reason.

Only the latest version of each landed file is read (spark/transforms/ecommerce/versions.py),
so a corrected export replaces its predecessor's rows; both outcomes replace the day in the
lake and the warehouse's `clean` schema (the lake IO manager), so re-running changes nothing.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Protocol

import dagster as dg
from pyspark.sql import DataFrame, SparkSession

from assets.clean_zone import CleanStep as Step
from assets.clean_zone import clean_outputs, table_spec
from assets.column_schema import column_schema
from assets.core.lake_days import LakeDays
from assets.dbt_project import DBT_PROJECT_DIR
from assets.ecommerce.sources import GROUP, OWNER, SOCIAL, TRANSACTIONS, WEBLOGS, Source
from assets.lake_io import lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Spark
from spark.schemas.clean_ecommerce import CLEAN_ORDERS, CLEAN_POSTS, CLEAN_REQUESTS, QUARANTINE
from spark.schemas.columns import Column
from spark.transforms.ecommerce import orders, social, weblogs

# The status words' map is a dbt seed (the warehouse tests it); this step reads the same file.
# As with the plausibility rules (assets/openaq_clean.py), the file is an external asset
# upstream of both readers, so no dbt node sits upstream of the Spark step.
STATUS_SEEDS = ("order_statuses",)
order_status_words = dg.AssetSpec(
    ["reference", "order_status_words"],
    description="The shop platforms' order status words and their canonical statuses "
    "(dbt/seeds/ecommerce/order_statuses.csv; an operator extends it by adding a row).",
    group_name=GROUP,
    kinds={"csv"},
)
order_status_words_file = dg.AssetsDefinition(specs=[order_status_words])  # external: kept in git


def _status_map(session: SparkSession) -> dict:
    return {"statuses": orders.read_status_map(session, DBT_PROJECT_DIR / "seeds")}


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
    clean_columns: Sequence[Column]  # the clean table's contract (spark/schemas/clean_ecommerce.py)
    description: str
    # Per-run inputs read with Spark and bound into `flag` (the orders' status map).
    read_rules: Callable[[SparkSession], dict] | None = None
    rule_deps: Sequence[dg.AssetKey] = ()


STEPS = (
    CleanStep(
        TRANSACTIONS,
        orders.flag_orders,
        orders.clean_orders,
        orders.quarantined_orders,
        (orders.CLEAN_KEY, orders.QUARANTINE_KEY),
        "ordered_on",
        CLEAN_ORDERS,
        "Order lines: one row per (order_id, order_line), UTC, latest file version wins; customer_email "
        "replaced by customer_key (HMAC-SHA256).",
        _status_map,
        (order_status_words.key,),
    ),
    CleanStep(
        WEBLOGS,
        weblogs.flag_requests,
        weblogs.clean_requests,
        weblogs.quarantined_requests,
        (weblogs.CLEAN_KEY, weblogs.QUARANTINE_KEY),
        "requested_on",
        CLEAN_REQUESTS,
        "Web server requests from combined-format logs, UTC; client IP replaced by client_key (HMAC-SHA256).",
    ),
    CleanStep(
        SOCIAL,
        social.flag_posts,
        social.clean_posts,
        social.quarantined_posts,
        (social.CLEAN_KEY, social.QUARANTINE_KEY),
        "created_on",
        CLEAN_POSTS,
        "Social posts: one row per post id, UTC, hashtags and mentions as space-separated lower-case text.",
    ),
)


def step_of(clean: CleanStep, key: bytes, rules: dict | None = None) -> Step:
    """The shared clean step (assets/clean_zone.py), its flag bound to the pseudonym key and
    the step's rules."""
    source = clean.source
    clean_key, quarantine_key = clean.keys
    return Step(
        raw=tuple(source.raw_key.path),
        clean=tuple(source.clean_key.path),
        quarantine=tuple(source.quarantine_key.path),
        flag=partial(clean.flag, key=key, **(rules or {})),
        keep=clean.keep,
        reject=clean.quarantine,
        partition_column=clean.day_column,
        clean_key=clean_key,
        quarantine_key=quarantine_key,
    )


def _spec(
    key: Sequence[str], step: CleanStep, description: str, column: str, columns: Sequence[Column]
) -> dg.AssetSpec:
    return table_spec(key, [step.source.raw_key, *step.rule_deps], description, GROUP, column).merge_attributes(
        owners=[OWNER],
        metadata={"dagster/column_schema": column_schema(columns)},
    )


def clean_asset(step: CleanStep) -> dg.AssetsDefinition:
    source = step.source
    unbound = step_of(step, b"")

    @dg.multi_asset(
        name=f"clean_{source.clean_table}",
        specs=[
            _spec(unbound.clean, step, step.description, step.day_column, step.clean_columns),
            _spec(
                unbound.quarantine,
                step,
                f"Records of the {source.name} files that failed validation, as received (PII pseudonymised), "
                "with the reason.",
                "partition_day",
                QUARANTINE,
            ),
        ],
        ins={"raw": lake_input(unbound.raw)},
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        pool="spark",
    )
    def _clean(
        context: dg.AssetExecutionContext,
        spark: dg.ResourceParam[Spark],
        pseudonym_key: dg.ResourceParam[PseudonymKey],
        raw: LakeDays,
    ):
        session = spark.get_session()
        rules = step.read_rules(session) if step.read_rules else None
        bound = step_of(step, pseudonym_key.key_bytes(), rules)
        yield from clean_outputs(bound, session, raw, partition_days(context), context.log)

    return _clean


clean_assets = [clean_asset(step) for step in STEPS]
