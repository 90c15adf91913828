"""The landing folder's sensor under `dagster dev` (what `make dev` starts): the real code
location, the local instance (orchestration/instance/local.yaml), the daemon ticking the
sensor. An export dropped by hand is picked up, its run succeeds, and its valid lines reach
`marts.fct_orders`; a second tick with the file unchanged requests nothing more."""

import os
import shutil
import sys
from contextlib import closing

import dagster as dg
import duckdb
import requests

from tests.orchestration.live_instance import REPO, free_port, graphql_ready, process, wait_for

DAY = "2026-11-20"
EXPORT = f"transactions/{DAY}/by-hand.csv"
LINES = [
    "order_id,order_line,customer_id,customer_email,product_id,product_name,category,quantity,"
    "unit_price,currency,ordered_at,status,campaign_id",
    f'O-20261120-90001,1,K1,ann@example.com,P-1,"Mug, large",kitchen,2,12.50,EUR,{DAY}T09:00:00Z,paid,C001',
    f"O-20261120-90001,2,K1,ann@example.com,P-2,Cups,kitchen,1,24.00,EUR,{DAY}T10:30:00+01:00,paid,",
    f"O-20261120-90002,1,K2,bob@example.com,P-3,Shoes,sports,-1,119.00,EUR,{DAY}T11:00:00Z,paid,",
]
TAG_FILE = "airstream/landing_file"
SENSOR = {
    "repositoryLocationName": "airstream",
    "repositoryName": "__repository__",
    "sensorName": "ecommerce_landing_sensor",
}
LAST_TICK = """
query LastTick($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 1) { timestamp } } }
  }
}"""


def file_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.tags.get(TAG_FILE) == EXPORT]


def test_a_file_dropped_under_dagster_dev_is_picked_up_and_its_run_succeeds(tmp_path):
    home, data_dir = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    shutil.copy(REPO / "orchestration/instance/local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_DIR": str(data_dir),
        "DAGSTER_DEPLOYMENT": "local",
        "SOURCES_MODE": "sample",
        "PATH": f"{sys.prefix}/bin{os.pathsep}{os.environ.get('PATH', '')}",
        "DO_NOT_TRACK": "1",
        # The folder listed every 5 s, not 30: the test waits for a tick twice.
        "LANDING_SENSOR_INTERVAL_SECONDS": "5",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    env.pop("PII_HASH_KEY", None)
    port = free_port()
    logs = [tmp_path / "dev.log"]
    # `make dev` is `dagster dev` in the repository (workspace.yaml) after the install step.
    dev = [f"{sys.prefix}/bin/dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]

    export = data_dir / "landing" / EXPORT
    with dg.DagsterInstance.from_config(str(home)) as instance:
        with process(dev, env, logs[0]):
            wait_for("webserver", lambda: graphql_ready(port), logs)
            export.parent.mkdir(parents=True)
            export.write_text("\r\n".join(LINES) + "\r\n", encoding="utf-8-sig")

            (run,) = wait_for("a run requested for the dropped file", lambda: file_runs(instance), logs)
            assert run.tags["dagster/partition"] == DAY
            assert run.tags["dagster/sensor_name"] == "ecommerce_landing_sensor"
            finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
            done = wait_for(
                "the file's run to finish",
                lambda: (r := instance.get_run_by_id(run.run_id)).status in finished and r,
                logs,
            )
            assert done.status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "dev.log").read_text()[-4000:]

            # A later tick sees the file unchanged and requests nothing for it.
            ended = instance.get_run_record_by_id(run.run_id).end_time
            wait_for("a later tick of the sensor", lambda: last_tick(port) > ended, logs)
            assert len(file_runs(instance)) == 1

    with closing(duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)) as con:
        orders = con.execute("select order_id, order_line, quantity from marts.fct_orders order by 1, 2").fetchall()
        reasons = con.execute("select reason from clean.ecommerce_orders_quarantine").fetchall()
    assert orders == [("O-20261120-90001", 1, 2), ("O-20261120-90001", 2, 1)]
    assert reasons == [("non_positive_quantity",)]


def last_tick(port: int) -> float:
    """When the file sensor last ticked, as the UI shows it (0 before its first tick)."""
    answer = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": LAST_TICK, "variables": {"selector": SENSOR}},
        timeout=30,
    ).json()
    ticks = answer["data"]["sensorOrError"]["sensorState"]["ticks"]
    return ticks[0]["timestamp"] if ticks else 0.0
