"""Schedules: each fires once a day for the day that just ended (UTC)."""

import dagster as dg

from orchestration.jobs import daily_job

# 02:00 UTC leaves providers time to deliver the last hours of the previous day.
# On by default (as the sensors), in both profiles: a deployment that starts the daemon runs
# the day without anyone switching the schedule on in the UI.
daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=2, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING
)
