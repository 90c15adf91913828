"""The sensor-driven path in one process, as the daemon runs it: a topic sensor's ticks and
the runs they request, the offset committer, then the automation sensor's evaluations and the
runs they request, until nothing more is asked for. Shared by tests/assets/test_sensor_runs.py
and `make bench-ranges`.

Each topic-sensor run executes the sensor's own asset selection, and each automation request
one run per day (with the unpartitioned assets it asks for), as the backfill the automation
sensor emits would. Works on any revision of the code location: it reads both from the defs.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import dagster as dg

from assets.offsets import commit_landed
from orchestration.sensors import evaluate_topic

SPARK_OPS = ("clean_openaq_measurements", "clean_openaq_catalogue", "clean_randomuser_users")


@dataclass
class PathStats:
    sensor_runs: int = 0
    automation_runs: int = 0
    spark_steps: int = 0
    failed_runs: list[str] = field(default_factory=list)
    results: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    automation_cursor: object = None

    @property
    def runs(self) -> int:
        return self.sensor_runs + self.automation_runs


def run(defs: dg.Definitions, stats: PathStats, selection, instance, **kwargs) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        list(defs.assets),
        selection=selection,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )
    stats.spark_steps += sum(
        1
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_START and e.step_key.startswith(SPARK_OPS)
    )
    stats.results.append(result)
    if not result.success:
        stats.failed_runs.append(result.run_id)
    return result


def drive_topic(defs: dg.Definitions, instance, topic: str, table: str, max_batch: int, stats: PathStats) -> None:
    """Tick the topic's sensor until it requests nothing, running each request; then commit."""
    sensor = defs.get_sensor_def(f"{topic.replace('.', '_')}_sensor")
    landing = next(
        a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and dg.AssetKey(["raw", table]) in a.keys
    )
    kafka, lake = defs.resources["kafka"], defs.resources["lake"]
    cursor = None
    while True:
        tick = evaluate_topic(cursor, kafka, topic, landing, max_batch, max_runs=1_000)
        if not tick.run_requests:
            break
        cursor = tick.cursor
        for request in tick.run_requests:
            run(
                defs,
                stats,
                sensor.asset_selection,
                instance,
                partition_key=request.partition_key,
                run_config=request.run_config,
                tags=request.tags,
            )
            stats.sensor_runs += 1
    # What the committer sensor does after the successes (a run that ends with the commit step did it).
    commit_landed(kafka, lake, table, topic)


def start_automation(defs: dg.Definitions, instance, stats: PathStats) -> None:
    """The automation sensor's first tick, before anything lands: as in a deployment, where it
    is running already. A condition's first evaluation only records where things stand."""
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert result.total_requested == 0, "nothing to follow before anything landed"
    stats.automation_cursor = result.cursor


def drive_automation(defs: dg.Definitions, instance, stats: PathStats, max_ticks: int = 10) -> None:
    """Evaluate the automation conditions from the last tick and run what they request, one run
    per day, until a tick requests nothing. A code location without conditions requests nothing."""
    for _ in range(max_ticks):
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=stats.automation_cursor)
        stats.automation_cursor = result.cursor
        if result.total_requested == 0:
            return
        by_day: dict[str | None, set[dg.AssetKey]] = defaultdict(set)
        for key in {r.key for r in result.results if isinstance(r.key, dg.AssetKey)}:
            for partition in result.get_requested_partitions(key):
                by_day[partition].add(key)
        unpartitioned = by_day.pop(None, set())
        days = sorted(by_day) or [None]
        for day in days:
            keys = by_day.get(day, set()) | (unpartitioned if day == days[-1] else set())
            kwargs = {"partition_key": day} if day else {}
            run(defs, stats, dg.AssetSelection.assets(*keys), instance, **kwargs)
            stats.automation_runs += 1
    raise AssertionError(f"automation still requesting after {max_ticks} ticks")
