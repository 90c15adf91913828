"""A code location for tests/stack/test_prod_instance.py only: what the daemon does for the prod
instance (a schedule tick, sensor ticks, a run retry, the Spark pool, a CLI backfill), with
no dbt and no Spark, so the code server and every run worker load it in about two seconds."""

import time

import dagster as dg

# The pool of the platform's Spark steps, which prod.yaml limits to one step at a time.
SPARK_POOL = "spark"
SPARK_RUN_SECONDS = 3


@dg.op
def say_done(context: dg.OpExecutionContext) -> None:
    context.log.info(f"run {context.run_id} done")


@dg.job
def scheduled_job():
    say_done()


@dg.job
def sensed_job():
    say_done()


@dg.op
def fail_first_attempt(context: dg.OpExecutionContext) -> None:
    # A run retried by the daemon carries dagster/retry_number; the original does not.
    if "dagster/retry_number" not in context.run.tags:
        raise RuntimeError("the first attempt fails on purpose")


@dg.job
def flaky_job():
    fail_first_attempt()


@dg.op(pool=SPARK_POOL)
def hold_the_cluster() -> None:
    time.sleep(SPARK_RUN_SECONDS)


@dg.job
def spark_job():
    hold_the_cluster()


@dg.op
def process_partition(context: dg.OpExecutionContext) -> None:
    context.log.info(f"partition {context.partition_key}")


@dg.job(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04"))
def partitioned_job():
    process_partition()


every_minute = dg.ScheduleDefinition(
    name="every_minute",
    job=scheduled_job,
    cron_schedule="* * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.sensor(job=sensed_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING)
def once_sensor():
    return dg.RunRequest(run_key="once")  # the run key makes later ticks request nothing


@dg.sensor(job=flaky_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING)
def flaky_sensor():
    return dg.RunRequest(run_key="flaky")


@dg.sensor(job=spark_job, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING)
def spark_pair_sensor():
    # Both in one tick: without the pool the queue would start them together.
    return [dg.RunRequest(run_key="spark-1"), dg.RunRequest(run_key="spark-2")]


defs = dg.Definitions(
    jobs=[scheduled_job, sensed_job, flaky_job, spark_job, partitioned_job],
    schedules=[every_minute],
    sensors=[once_sensor, flaky_sensor, spark_pair_sensor],
)
