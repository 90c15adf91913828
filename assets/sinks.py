"""The serving sinks: raw OpenAQ documents in MongoDB, clean users in Cassandra.

Both upsert by natural key (sensor x period end; user id), so re-running a day or replaying
a Kafka range rewrites the same documents and rows. A failed write raises: the run fails and
the topic sensor's offsets for it are not committed.
"""

import json
from collections.abc import Iterator

import dagster as dg

from assets.partitions import daily_partitions, partition_days, single_run
from assets.ports import Lake, MeasurementStore, UserStore

BATCH_ROWS = 5_000


def landed_documents(directory) -> Iterator[list[dict]]:
    """The day's landed OpenAQ messages as documents (with their Kafka coordinates), in batches."""
    files = sorted(str(p) for p in directory.glob("*.parquet"))
    if not files:
        return
    columns = ["payload", "kafka_topic", "kafka_partition", "kafka_offset"]
    import pyarrow.dataset as pa_ds  # here, not at load: it imports pandas (~2 s)

    for batch in pa_ds.dataset(files, format="parquet").to_batches(columns=columns, batch_size=BATCH_ROWS):
        docs = []
        for row in batch.to_pylist():
            doc = json.loads(row["payload"])
            doc["kafka"] = {
                "topic": row["kafka_topic"],
                "partition": row["kafka_partition"],
                "offset": row["kafka_offset"],
            }
            docs.append(doc)
        yield docs


@dg.asset(
    key=["mongo", "openaq_measurements"],
    deps=[dg.AssetKey(["raw", "openaq_measurements"])],
    group_name="openaq",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"mongodb"},
)
def mongo_openaq_measurements(
    context: dg.AssetExecutionContext,
    measurement_store: dg.ResourceParam[MeasurementStore],
    lake: dg.ResourceParam[Lake],
) -> dg.MaterializeResult:
    """The day's raw OpenAQ measurement documents as landed from Kafka, one per sensor x period end (`_id`)."""
    totals = {"documents": 0, "upserted": 0, "matched": 0, "without_id": 0}
    for day in partition_days(context):
        for docs in landed_documents(lake.partition_dir("raw", "openaq_measurements", day)):
            result = measurement_store.upsert_measurements(docs)
            totals["documents"] += len(docs)
            totals["upserted"] += result.upserted
            totals["matched"] += result.matched
            # No period end, no id: the clean step quarantines these with their reason.
            totals["without_id"] += len(result.rejected)
    context.log.info(f"MongoDB upserts: {totals}")
    return dg.MaterializeResult(metadata={**totals, "collection_count": measurement_store.count()})


@dg.asset(
    key=["cassandra", "created_users"],
    deps=[dg.AssetKey(["clean", "randomuser_users"])],
    group_name="users",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"cassandra"},
)
def cassandra_created_users(
    context: dg.AssetExecutionContext,
    user_store: dg.ResourceParam[UserStore],
    lake: dg.ResourceParam[Lake],
) -> dg.MaterializeResult:
    """The serving table `spark_streams.created_users`: one row per user id, upserted from the day's clean users."""
    written = 0
    for day in partition_days(context):
        files = sorted(str(p) for p in lake.partition_dir("clean", "randomuser_users", day).glob("*.parquet"))
        if not files:
            continue
        import pyarrow.dataset as pa_ds

        for batch in pa_ds.dataset(files, format="parquet").to_batches(batch_size=BATCH_ROWS):
            written += user_store.upsert_users(batch.to_pylist())
    context.log.info(f"Cassandra upserts: {written}")
    return dg.MaterializeResult(metadata={"rows_written": written, "table_count": user_store.count()})
