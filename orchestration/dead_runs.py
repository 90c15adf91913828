"""Runs whose process is gone: marked failed, their pool slots given back.

A run killed outright (SIGKILL, the OOM killer, a crash, a closed laptop lid) never writes its
end: the instance still shows it started, and the slot it held in a pool (`spark`, `warehouse`)
stays claimed, so every later run that needs that pool waits on it forever. Dagster's run
monitoring finds such runs only through a run launcher that can check its workers, which the
local profile's default launcher cannot, and only where a daemon runs.

So the local profile checks for itself, on this machine: each run still marked as in flight
names the process that runs it (its start event carries that process's id). A run whose process
no longer exists, or whose process id now belongs to a process started after the run did, is
dead. `make run` checks before it starts a day; `python -m orchestration.dead_runs` is the same
check by hand (docs/operating.md's one command for a stuck slot); `make dev`'s daemon runs it as the
`dead_runs_sensor`. Runs of other machines (the prod stack's containers) are not judged here:
the prod instance's run monitoring is theirs.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

IN_FLIGHT = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
# A process that began more than this after its run's first event is another process with a
# reused id. Generous: the run's first event is written after its process started.
_PID_REUSE_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int
    pools: tuple[str, ...]

    def describe(self) -> str:
        held = f", pool slots freed: {', '.join(self.pools)}" if self.pools else ""
        return f"run {self.run_id} ({self.job_name}): process {self.pid} is gone; marked failed{held}"


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")


def process_started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 22, counted after the parenthesised command name (which may itself hold spaces).
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie: exited, not yet reaped by its parent
        return None
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def run_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(process id, event time) of the run's start: the process that executes it (the CLI's
    own, or the run worker a launcher started; earlier events come from whoever launched it)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records or records[0].event_log_entry.dagster_event.pid is None:
        return None
    return records[0].event_log_entry.dagster_event.pid, records[0].event_log_entry.timestamp


def is_alive(pid: int, since: float) -> bool:
    started = process_started_at(pid)
    return started is not None and started <= since + _PID_REUSE_SLACK_SECONDS


def release_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Marks every in-flight run whose process is gone as failed and frees its pool slots."""
    dead = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        found = run_process(instance, run.run_id)
        if found is None or is_alive(*found):
            continue  # not started far enough to name a process, or still running
        pid, _ = found
        storage = instance.event_log_storage
        pools = tuple(sorted(_claimed_pools(storage, run.run_id)))
        dead_run = DeadRun(run.run_id, run.job_name, pid, pools)
        instance.report_run_failed(run, message=dead_run.describe())
        storage.free_concurrency_slots_for_run(run.run_id)
        dead.append(dead_run)
    return dead


def _claimed_pools(storage, run_id: str) -> set[str]:
    """The pools in which the run holds a slot or has a step waiting for one."""
    infos = (storage.get_concurrency_info(pool) for pool in storage.get_concurrency_keys())
    return {info.concurrency_key for info in infos if run_id in info.active_run_ids | info.pending_run_ids}


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks runs whose process is gone (killed, crashed) as failed and frees their pool slots.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    dead = release_dead_runs(context.instance)
    for run in dead:
        context.log.warning(run.describe())
    return dg.SkipReason(f"{len(dead)} dead run(s) released" if dead else "no dead run")


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        dead = release_dead_runs(instance)
    for run in dead:
        print(f"warning: {run.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
