"""One partition day's window for `dbt build`, passed as the orchestrator passes it: in the
environment (assets/dbt_models.py), so that builds of different days reuse dbt's parse state."""

import datetime as dt

import dagster as dg

from assets.dbt_models import partition_window_env


def partition_window(day: dt.date) -> dict[str, str]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return partition_window_env(dg.TimeWindow(start, start + dt.timedelta(days=1)))
