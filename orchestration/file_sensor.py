"""The landing folder's sensor: a new or changed file requests a run for its day.

A tick lists `<landing>/<source>/<YYYY-MM-DD>/`, hashes every file whose size or mtime is not
the one in its cursor (at most `max_hash_bytes` per tick; the rest waits for the next tick),
and requests one run per new file version: `run_key = <source>/<relative path>@<sha256>`, so
a version is requested once, and a corrected file under the same name (a new hash) is a new
run. The run ingests every file present for the day (a version already in the raw zone is
skipped), cleans the day and rebuilds its marts. Days that are not partitions yet (today's
folder) wait in the folder and are requested once the day has ended.
"""

import json
import os
from datetime import date, datetime

import dagster as dg

from assets.ecommerce.files import raw_file_name
from assets.ecommerce.sources import ALL_SOURCES, LandingFolder
from assets.ports import Lake
from assets.streams import STREAMS
from orchestration.resources.ecommerce.landing import file_sha256
from orchestration.sensors import last_complete_day

TAG_FILE = "airstream/landing_file"


def file_run_selection(raw_key: dg.AssetKey) -> dg.AssetSelection:
    """The source's raw asset and everything below it, less what also needs a Kafka stream.

    Not the other sources', nor the landing asset (in sample mode it writes files). The campaign
    aggregate joins the ad stream: a file run cannot build it before the stream has landed (a
    fresh instance), so it follows the run by declarative automation (orchestration/automation.py)."""
    streams = dg.AssetSelection.assets(*(s.raw_key for s in STREAMS)).downstream()
    return dg.AssetSelection.assets(raw_key).downstream() - streams


def downstream_of(key: dg.AssetKey, asset_graph) -> list[dg.AssetKey] | None:
    """`file_run_selection` resolved; None (the sensor's whole selection) without a graph."""
    if asset_graph is None:
        return None
    return sorted(file_run_selection(key).resolve(asset_graph))


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def evaluate_landing(
    cursor: str | None,
    landing: LandingFolder,
    max_runs: int,
    max_hash_bytes: int,
    now: datetime | None = None,
    asset_graph=None,
    lake: Lake | None = None,
) -> tuple[list[dg.RunRequest], str]:
    """(run requests, new cursor). The cursor maps a relative path to [size, mtime_ns, sha256]."""
    seen: dict = json.loads(cursor) if cursor else {}
    last_day = last_complete_day(now)
    requests, hashed_bytes = [], 0
    for source in ALL_SOURCES:
        root = landing.day_dir(source.name, last_day).parent
        days = sorted(d for d in (_day(p.name) for p in root.iterdir() if p.is_dir()) if d) if root.is_dir() else []
        for day in (d for d in days if date(2024, 1, 1) <= d <= last_day):
            for landed in landing.files(source.name, day):
                stat = landed.path.stat()
                known = seen.get(landed.relative_path)
                if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
                    continue
                if len(requests) >= max_runs or hashed_bytes >= max_hash_bytes:
                    return requests, json.dumps(seen)
                sha256 = file_sha256(landed.path)
                hashed_bytes += stat.st_size
                seen[landed.relative_path] = [stat.st_size, stat.st_mtime_ns, sha256]
                if known and known[2] == sha256:
                    continue  # touched, same bytes
                if (
                    lake
                    and (
                        lake.partition_dir("raw", source.raw_table, day) / f"{raw_file_name(landed, sha256)}.parquet"
                    ).exists()
                ):
                    continue  # a whole-day run (the sample writer's, the CLI's) has ingested it already
                requests.append(
                    dg.RunRequest(
                        run_key=f"{source.name}/{landed.relative_path}@{sha256}",
                        partition_key=day.isoformat(),
                        asset_selection=downstream_of(source.raw_key, asset_graph),
                        tags={TAG_FILE: landed.relative_path},
                    )
                )
    return requests, json.dumps(seen)


RAW_ASSETS = dg.AssetSelection.assets(*(source.raw_key for source in ALL_SOURCES))


def landing_folder_sensor(
    max_runs: int = 20, max_hash_bytes: int = 2 << 30, interval_seconds: int | None = None
) -> dg.SensorDefinition:
    """`interval_seconds`: how often the folder is listed; unset, `LANDING_SENSOR_INTERVAL_SECONDS`,
    else 30 (read as the code location loads)."""
    if interval_seconds is None:
        interval_seconds = int(os.getenv("LANDING_SENSOR_INTERVAL_SECONDS") or 30)

    @dg.sensor(
        name="ecommerce_landing_sensor",
        asset_selection=RAW_ASSETS.downstream(),
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a run for the day of every new or changed file in the landing folder "
        f"(at most {max_runs} runs a tick).",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: dg.ResourceParam[LandingFolder], lake: dg.ResourceParam[Lake]
    ) -> dg.SensorResult:
        graph = context.repository_def.asset_graph if context.repository_def else None
        requests, cursor = evaluate_landing(
            context.cursor, landing, max_runs, max_hash_bytes, asset_graph=graph, lake=lake
        )
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
