"""The serving sinks: raw OpenAQ documents in MongoDB, clean users in Cassandra.

Both upsert by natural key (sensor x period end; user id), so re-running a day or replaying
a Kafka range rewrites the same documents and rows. Each build writes the whole day. A failed
write raises: the run fails, and automation builds the day again until it succeeds
(orchestration/automation.py); the offsets do not wait for it, since the raw zone holds the day. Their inputs come from the lake IO
manager; the row mappings are pure (assets/core/rows.py).
"""

import dagster as dg

from assets.core.lake_days import LakeDays
from assets.core.rows import LANDED_COLUMNS
from assets.lake_io import lake_input
from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import MeasurementStore, UserStore
from assets.streams import OPENAQ, USERS

# Rows per store call: a larger batch amortises the embedded store's connection, transaction and
# set-wise statements (5k -> 20k: 35 -> 31.5 s for 607k documents); MongoDB chunks it itself.
BATCH_ROWS = 20_000


@dg.asset(
    key=["mongo", OPENAQ.table],
    ins={"landed": lake_input(OPENAQ.raw_key.path)},
    group_name="openaq",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"mongodb"},
)
def mongo_openaq_measurements(
    context: dg.AssetExecutionContext, measurement_store: dg.ResourceParam[MeasurementStore], landed: LakeDays
) -> dg.MaterializeResult:
    """The day's raw OpenAQ measurement documents as landed from Kafka, one per sensor x period end (`_id`)."""
    totals = {"documents": 0, "upserted": 0, "matched": 0, "without_id": 0}

    def landed_columns(day):
        for batch in landed.batches(day, LANDED_COLUMNS, BATCH_ROWS):
            totals["documents"] += batch.num_rows  # counted as read, not from the store's answer
            yield {name: batch.column(name) for name in LANDED_COLUMNS}  # Arrow: the store maps by column

    for day in partition_days(context):
        result = measurement_store.upsert_landed(landed_columns(day))
        totals["upserted"] += result.upserted
        totals["matched"] += result.matched
        # No period end, no id: the clean step quarantines these with their reason.
        totals["without_id"] += len(result.rejected)
    context.log.info(f"MongoDB upserts: {totals}")
    return dg.MaterializeResult(metadata={**totals, "collection_count": measurement_store.count()})


@dg.asset(
    key=["cassandra", "created_users"],
    ins={"clean_users": lake_input(USERS.clean_key.path)},
    group_name="users",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"cassandra"},
)
def cassandra_created_users(
    context: dg.AssetExecutionContext, user_store: dg.ResourceParam[UserStore], clean_users: LakeDays
) -> dg.MaterializeResult:
    """The serving table `spark_streams.created_users`: one row per user id, upserted from the day's clean users."""
    written = 0
    for day in partition_days(context):
        for batch in clean_users.batches(day, batch_size=BATCH_ROWS):
            written += user_store.upsert_users(batch.to_pylist())
    context.log.info(f"Cassandra upserts: {written}")
    return dg.MaterializeResult(metadata={"rows_written": written, "table_count": user_store.count()})
