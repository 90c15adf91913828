"""The landing folder's sensor: one run per new file version, never one per tick."""

import hashlib
import os
from datetime import UTC, datetime

import dagster as dg

from orchestration.definitions import defs
from orchestration.file_sensor import evaluate_landing, landing_folder_sensor
from orchestration.resources.ecommerce import LandingFolderResource
from orchestration.resources.lake import LakeResource

NOW = datetime(2026, 11, 21, 8, tzinfo=UTC)  # 2026-11-20 is the last complete day


def drop(landing: LandingFolderResource, relative: str, text: str) -> None:
    path = os.path.join(landing.landing_dir, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_a_dropped_file_requests_one_run_for_its_day_and_a_corrected_one_another(tmp_path):
    landing = LandingFolderResource(landing_dir=str(tmp_path), mode="files")
    drop(landing, "transactions/2026-11-20/export.csv", "order_id\n1\n")
    drop(landing, "transactions/2026-11-20/.export2.csv.part", "being copied")  # hidden: ignored
    drop(landing, "transactions/2026-11-21/today.csv", "x")  # today is no partition yet
    drop(landing, "weblogs/2026-11-19/access.log", "1.2.3.4 - - ...")

    requests, cursor = evaluate_landing(None, landing, max_runs=10, max_hash_bytes=1 << 20, now=NOW)
    by_key = {r.run_key: r for r in requests}
    assert sorted(k.split("@")[0] for k in by_key) == [
        "transactions/transactions/2026-11-20/export.csv",
        "weblogs/weblogs/2026-11-19/access.log",
    ]
    export = next(r for k, r in by_key.items() if "export.csv" in k)
    assert export.partition_key == "2026-11-20" and len(export.run_key.split("@")[1]) == 64

    assert evaluate_landing(cursor, landing, 10, 1 << 20, now=NOW)[0] == [], "nothing new, nothing requested"

    drop(landing, "transactions/2026-11-20/export.csv", "order_id\n2\n")
    again, cursor = evaluate_landing(cursor, landing, 10, 1 << 20, now=NOW)
    assert [r.run_key.split("@")[0] for r in again] == ["transactions/transactions/2026-11-20/export.csv"]
    assert again[0].run_key != export.run_key

    later = datetime(2026, 11, 22, 8, tzinfo=UTC)
    assert [r.partition_key for r in evaluate_landing(cursor, landing, 10, 1 << 20, now=later)[0]] == ["2026-11-21"]


def test_a_tick_requests_at_most_max_runs_and_the_rest_next_tick(tmp_path):
    landing = LandingFolderResource(landing_dir=str(tmp_path), mode="files")
    for n in range(5):
        drop(landing, f"social/2026-11-20/posts-{n}.json", f"[{n}]")
    first, cursor = evaluate_landing(None, landing, max_runs=3, max_hash_bytes=1 << 20, now=NOW)
    second, cursor = evaluate_landing(cursor, landing, max_runs=3, max_hash_bytes=1 << 20, now=NOW)
    assert len(first) == 3 and len(second) == 2
    assert len({r.run_key for r in first + second}) == 5


def test_the_sensor_runs_the_files_source_and_what_is_downstream_of_it(tmp_path):
    landing = LandingFolderResource(landing_dir=str(tmp_path), mode="files")
    drop(landing, "transactions/2024-03-01/export.csv", "order_id\n1\n")
    sensor = landing_folder_sensor()
    lake = LakeResource(root=str(tmp_path / "lake"))
    context = dg.build_sensor_context(resources={"landing": landing, "lake": lake}, definitions=defs)
    result = sensor(context)
    (request,) = result.run_requests
    selected = {key.to_user_string() for key in request.asset_selection}
    assert {"raw/ecommerce_transactions", "clean/ecommerce_orders", "marts/fct_orders"} <= selected
    assert not selected & {"landing/ecommerce_files", "raw/ecommerce_weblogs", "clean/ecommerce_social_posts"}
    # The ad stream's aggregate and commit step follow by automation, not in a file run.
    assert not selected & {"marts/agg_campaign_daily", "kafka/ads_events_committed", "staging/stg_ads__events"}
    assert request.partition_key == "2024-03-01"
    assert request.run_key.startswith("transactions/transactions/2024-03-01/export.csv@")


def test_a_version_a_whole_day_run_has_ingested_requests_nothing(tmp_path):
    landing = LandingFolderResource(landing_dir=str(tmp_path / "landing"), mode="files")
    lake = LakeResource(root=str(tmp_path / "lake"))
    drop(landing, "transactions/2026-11-20/export.csv", "order_id\n1\n")
    drop(landing, "transactions/2026-11-20/later.csv", "order_id\n2\n")
    sha = hashlib.sha256(b"order_id\n1\n").hexdigest()
    stored = lake.partition_dir("raw", "ecommerce_transactions", NOW.date().replace(day=20))
    stored.mkdir(parents=True)
    (stored / f"export.csv@{sha[:16]}.parquet").write_bytes(b"")
    requests, _ = evaluate_landing(None, landing, 10, 1 << 20, now=NOW, lake=lake)
    assert [r.run_key.split("@")[0] for r in requests] == ["transactions/transactions/2026-11-20/later.csv"]
