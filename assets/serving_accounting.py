"""Loss accounting past the clean zone: the serving stores and the marts, per day.

The identity of assets/accounting.py ends at the clean zone; these checks carry it on into the
stores the clean rows feed. Each is a check on the asset that writes the store, so it runs when
that data exists, and each term is counted from its own store, never derived from another:

    MongoDB   documents of the day's clean rows (by `_id`)       = clean rows
              documents of the day's landed ids (by `_id`)       = distinct ids landed
    Cassandra rows of the day's clean users (by `id`)            = clean users
    marts     `fct_measurements` rows of the day (`measured_on`) = clean rows

- clean rows / clean users: rows of `clean/<table>/day=D` (Parquet footers); their keys read
  from the same files.
- distinct ids landed: the document ids (`sensor_id:period end`, assets/core/rows.py) of the
  rows of the measurements' raw day, read from the lake. MongoDB keeps the raw documents
  as landed, quarantined ones included, so it holds more documents than there are clean rows:
  the second line is the one that sees a quarantined row's document go missing.
- MongoDB and Cassandra terms: how many of those keys the store holds, counted in the store.
- `fct_measurements` rows: counted in the warehouse.

A check fails when a line does not add up; its metadata carries every term and `moved`, the
store term that differs from the figure it must equal.
"""

from collections.abc import Callable, Iterator
from datetime import date, datetime

import dagster as dg

from assets.core.lake_days import parquet_rows
from assets.core.rows import canonical_end, to_stored
from assets.partitions import daily_partitions, partition_days
from assets.ports import Lake, MeasurementStore, UserStore, Warehouse
from assets.streams import OPENAQ
from assets.streams import USERS as USERS_STREAM

MEASUREMENTS, USERS = OPENAQ.table, USERS_STREAM.table
MONGO = dg.AssetKey(["mongo", MEASUREMENTS])
CASSANDRA = dg.AssetKey(["cassandra", "created_users"])
FCT_MEASUREMENTS = dg.AssetKey(["marts", "fct_measurements"])
# Rows read at a time; a multiple of the stores' own chunk of ids per count (10,000).
BATCH_ROWS = 200_000


def read_batches(lake: Lake, zone: str, table: str, day: date, columns: list[str]) -> Iterator[dict[str, list]]:
    """Columns of a lake day, a batch of rows at a time as Python lists (none when the day has
    no file). A batch, not the day: at L a day's raw payloads as Python strings, with the ids
    built from them, took the run's process past 19 GB."""
    for batch in lake.read_days(zone, table, [day]).batches(day, columns, batch_size=BATCH_ROWS):
        yield {c: batch.column(c).to_pylist() for c in columns}


def document_id(sensor_id: int, period_end: datetime) -> str:
    """The MongoDB `_id` of a clean measurement, as the sink builds it from the landed row."""
    _, text = canonical_end(period_end.isoformat())
    return f"{sensor_id}:{text}"


def landed_ids(lake: Lake, day: date) -> set[str]:
    """The document ids of the day's landed measurement rows (rows without one get no document)."""
    import orjson

    ids = set()
    for batch in read_batches(lake, "raw", MEASUREMENTS, day, ["payload"]):
        for payload in batch["payload"]:
            try:
                ids.add(to_stored(orjson.loads(payload))["_id"])
            except (ValueError, orjson.JSONDecodeError):
                continue
    return ids


def balance(terms: dict, lines: list[tuple[str, str]]) -> dict:
    """`terms` with, for each (store term, figure) line that differs, the store term in `moved`."""
    moved = [store for store, figure in lines if terms[store] != terms[figure]]
    return {**terms, "moved": moved, "balanced": not moved}


def mongo_accounts(lake: Lake, store: MeasurementStore, day: date) -> dict:
    # A clean row is one document id (the clean zone keeps one row per sensor and period end), so
    # the batches' counts add up to the day's.
    clean_documents = sum(
        store.count_ids([document_id(s, e) for s, e in zip(b["sensor_id"], b["period_end_utc"], strict=True)])
        for b in read_batches(lake, "clean", MEASUREMENTS, day, ["sensor_id", "period_end_utc"])
    )
    landed = sorted(landed_ids(lake, day))
    terms = {
        "clean_rows": parquet_rows(lake.partition_dir("clean", MEASUREMENTS, day)),
        "mongo_documents_of_clean_rows": clean_documents,
        "landed_document_ids": len(landed),
        "mongo_documents_of_landed_ids": store.count_ids(landed),
    }
    return balance(
        terms,
        [("mongo_documents_of_clean_rows", "clean_rows"), ("mongo_documents_of_landed_ids", "landed_document_ids")],
    )


def cassandra_accounts(lake: Lake, store: UserStore, day: date) -> dict:
    terms = {
        "clean_users": parquet_rows(lake.partition_dir("clean", USERS, day)),
        # One row per user in the clean zone: the batches' counts add up to the day's.
        "cassandra_rows": sum(
            store.count_ids([str(i) for i in b["user_id"]])
            for b in read_batches(lake, "clean", USERS, day, ["user_id"])
        ),
    }
    return balance(terms, [("cassandra_rows", "clean_users")])


def mart_accounts(lake: Lake, warehouse: Warehouse, day: date) -> dict:
    ((rows,),) = warehouse.query(
        f"select count(*) from marts.fct_measurements where measured_on = date '{day.isoformat()}'"
    )
    terms = {"clean_rows": parquet_rows(lake.partition_dir("clean", MEASUREMENTS, day)), "fct_measurements_rows": rows}
    return balance(terms, [("fct_measurements_rows", "clean_rows")])


def store_result(per_day: dict[str, dict], store: str) -> dg.AssetCheckResult:
    bad = sorted(day for day, terms in per_day.items() if not terms["balanced"])
    metadata: dict = {"per_day": per_day, "unbalanced_days": bad}
    if len(per_day) == 1:  # one partition: every term as its own figure
        (terms,) = per_day.values()
        metadata |= {k: v for k, v in terms.items() if isinstance(v, int) and not isinstance(v, bool)}
        metadata["moved"] = terms["moved"]
    moved = sorted({term for day in bad for term in per_day[day]["moved"]})
    description = (
        f"{store} holds every row of the day"
        if not bad
        else f"{store} unaccounted for on {', '.join(bad)}; the term that moved: {', '.join(moved)}"
    )
    return dg.AssetCheckResult(passed=not bad, metadata=metadata, description=description)


def store_check(
    asset: dg.AssetKey, store: str, resource: str, count: Callable[[Lake, object, date], dict], description: str
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="rows_accounted_for",
        blocking=True,
        partitions_def=daily_partitions,
        description=description,
        required_resource_keys={"lake", resource},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        lake, target = context.resources.lake, getattr(context.resources, resource)
        per_day = {}
        for day in partition_days(context):
            per_day[day.isoformat()] = count(lake, target, day)
            context.log.info(f"accounting {store} {day}: {per_day[day.isoformat()]}")
        return store_result(per_day, store)

    return _check


checks = [
    store_check(
        MONGO,
        "MongoDB",
        "measurement_store",
        mongo_accounts,
        "Blocking: fails when MongoDB holds fewer documents of the day's clean rows than there are "
        "clean rows, or of the day's landed document ids than there are ids (each counted in its store).",
    ),
    store_check(
        CASSANDRA,
        "Cassandra",
        "user_store",
        cassandra_accounts,
        "Blocking: fails when Cassandra holds fewer rows of the day's clean users than there are clean users.",
    ),
    store_check(
        FCT_MEASUREMENTS,
        "marts.fct_measurements",
        "warehouse",
        mart_accounts,
        "Blocking: fails when the warehouse's fct_measurements rows of the day (measured_on) differ "
        "from the clean zone's rows of the day.",
    ),
]
