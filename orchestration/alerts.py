"""Failure alerts: a failed run, and a failed check of a successful run, each post one message.

Both are sensors, evaluated by the daemon outside every run: an alert can be late or lost
(the receiver is retried, then given up on), but it can never block or fail the pipeline.
"""

from collections.abc import Sequence

import dagster as dg

from orchestration.resources.alerts import AlertWebhook


def first_error_line(error) -> str:
    """The innermost cause of a serialized error, one line: Dagster wraps user errors."""
    if error is None:
        return "no error recorded"
    while error.cause is not None:
        error = error.cause
    # A serialized message already starts with the exception's class name.
    lines = (error.message or "").strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"


def partition_of(tags: dict[str, str]) -> str:
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start else "unpartitioned"


def assets_of_step(repository_def, step_key: str) -> list[str]:
    """The asset keys an op computes (its step key is the op name for asset jobs)."""
    if repository_def is None:
        return []
    for assets_def in repository_def.asset_graph.assets_defs:
        if assets_def.is_executable and assets_def.node_def.name == step_key:
            return sorted(key.to_user_string() for key in assets_def.keys)
    return []


def run_failure_text(
    run, step_failures: Sequence, failure_message: str | None, checks: Sequence = (), repository_def=None
) -> str:
    lines = [f"Run failed: job `{run.job_name}`, partition {partition_of(run.tags)}, run {run.run_id}"]
    for event in step_failures:
        assets = ", ".join(assets_of_step(repository_def, event.step_key)) or "no asset"
        lines.append(f"step `{event.step_key}` ({assets}): {first_error_line(event.step_failure_data.error)}")
    if not step_failures:
        lines.append(failure_message or "the run failed before any step ran")
    lines.extend(check_line(e, partition_of(run.tags)) for e in checks)
    return "\n".join(lines)


def check_line(evaluation, run_partition: str) -> str:
    # A check that is not partitioned itself evaluates the partition its run materialized.
    return (
        f"check failed ({evaluation.severity.value}): `{evaluation.asset_key.to_user_string()}` "
        f"`{evaluation.check_name}`, partition {evaluation.partition or run_partition}"
        + (f": {evaluation.description}" if evaluation.description else "")
    )


def check_failure_text(evaluation, run) -> str:
    return f"Run {run.run_id} succeeded, but a {check_line(evaluation, partition_of(run.tags))}"


def failed_checks(instance, run_id: str) -> list:
    """Every failed check evaluation of one run (bounded by the run's own checks)."""
    connection = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in connection.records]
    return [e for e in evaluations if not e.passed]


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run (job, partition, failed steps, their assets and first error line) to ALERT_WEBHOOK_URL.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: dg.ResourceParam[AlertWebhook]):
    text = run_failure_text(
        context.dagster_run,
        context.get_step_failure_events(),
        context.failure_event.message,
        failed_checks(context.instance, context.dagster_run.run_id),
        context.repository_def,
    )
    context.log.info(text if alerts.post(text) else f"alert not posted: {text}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="check_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed asset check of a successful run (non-blocking or warn severity) "
    "to ALERT_WEBHOOK_URL; failed checks of a failed run are in its run-failure alert.",
)
def check_failure_alerts(context: dg.RunStatusSensorContext, alerts: dg.ResourceParam[AlertWebhook]):
    for evaluation in failed_checks(context.instance, context.dagster_run.run_id):
        text = check_failure_text(evaluation, context.dagster_run)
        context.log.info(text if alerts.post(text) else f"alert not posted: {text}")
