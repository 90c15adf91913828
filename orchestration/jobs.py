"""Jobs over the asset graph."""

import dagster as dg

# One process for the whole day: the multiprocess executor would re-import the code location
# (7-10 s) and start a JVM (8-12 s) for every step on this size of machine.
daily_job = dg.define_asset_job(
    "daily",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Pull one UTC day from every source, land it from Kafka, clean it and model it.",
)
