"""The production stack's files: docker-compose.yml, .env.example, the Dockerfile, .dockerignore.

No Docker engine runs here, so what is proven is what can be without one: compose resolves the
file with the example environment and refuses it without secrets; images are pinned; every
service is health-checked and waits for healthy dependencies; ports stay on 127.0.0.1; no
secret is written in the file; the environment matches what the code reads; and the parts
that run the same outside a container are run: the Spark master and worker commands (a real
cluster, running an executor on the project's interpreter) and the image's `dbt parse` step.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.orchestration.live_instance import stop_together
from tests.waiting import WAIT_SECONDS, wait_until

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPOSE_FILE = REPO / "docker-compose.yml"
RAW = yaml.safe_load(COMPOSE_FILE.read_text())  # anchors merged, ${...} left as written
SERVICES = RAW["services"]
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")


def _docker_compose(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (.ci/run installs Debian's package)")
    # A clean environment: only the env file may provide the variables.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as compose resolves it with .env.example's values."""
    done = _docker_compose("config", env_file=REPO / ".env.example")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def _env(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def test_config_is_valid_with_the_example_environment():
    done = _docker_compose("config", "-q", env_file=REPO / ".env.example")
    assert done.returncode == 0, done.stderr


def test_config_is_refused_without_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = _docker_compose("config", "-q", env_file=empty)
    assert done.returncode != 0
    assert "in .env" in done.stderr  # the `${VAR:?set VAR in .env}` message


def test_env_example_defines_every_required_variable_with_placeholders_only():
    required = set(REQUIRED_VAR.findall(COMPOSE_FILE.read_text()))
    example = _env_example()
    assert required, "the compose file requires no variable at all"
    assert required <= set(example), f"missing from .env.example: {sorted(required - set(example))}"
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert value.startswith("change-me"), f"{name} in .env.example must be a change-me placeholder"


def test_every_image_is_pinned_to_a_version(resolved):
    for name, service in resolved["services"].items():
        image = service.get("image", "")
        # Prometheus tags its releases with a leading v (v2.53.4): still one exact release.
        assert re.fullmatch(r"[\w.\-/]+:v?\d+(\.\d+)+[\w.\-]*", image), f"{name}: image {image!r} is not pinned"
        if "build" in service:
            assert image == f"airstream:{VERSION}", f"{name}: a built image is tagged with the project version"
    dockerfile = (REPO / "Dockerfile").read_text()
    # One stage, on a Python 3.11 patch release of Debian 12's slim image.
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == [
        re.search(r"python:3\.11\.\d+-slim-bookworm", dockerfile)[0]
    ]
    assert re.search(r'"uv==\d+\.\d+\.\d+"', dockerfile)


def test_every_service_is_health_checked_and_waits_for_healthy_dependencies(resolved):
    for name, service in resolved["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL") and not service["healthcheck"].get("disable"), name
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name a condition"
        for dependency, spec in depends_on.items():
            assert spec.get("condition") in ("service_healthy", "service_completed_successfully"), (name, dependency)


def test_published_ports_are_bound_to_loopback(resolved):
    published = 0
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip == "127.0.0.1", f"{name}: port {port} is not bound to 127.0.0.1"
            published += 1
    assert published >= 1


def test_no_secret_is_written_in_the_compose_file():
    for name, service in SERVICES.items():
        for key, value in _env(service).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}: {key} must be ${{{key}:?...}}"
            userinfo = re.match(r"\w+://(.*)@", value)  # credentials inside a URI
            if userinfo:
                assert any(SECRET_NAME.search(var) for var in REQUIRED_VAR.findall(userinfo[1])), f"{name}: {key}"


def test_dagster_and_spark_share_the_lake_and_the_instance():
    instance_vars = set(re.findall(r"env:\s*([A-Z0-9_]+)", (REPO / "orchestration/instance/prod.yaml").read_text()))
    for name in (*DAGSTER_SERVICES, "spark-worker"):
        service = SERVICES[name]
        data_dir = _env(service)["DATA_DIR"]
        assert f"lake:{data_dir}" in service["volumes"], name
        assert service["image"] == SERVICES["dagster-code"]["image"]
    for name in DAGSTER_SERVICES:
        env = _env(SERVICES[name])
        assert instance_vars <= set(env), f"{name} lacks {instance_vars - set(env)}"
        assert env["DAGSTER_HOME"] == "/opt/dagster/home"
        assert "dagster-storage:/opt/dagster/home/storage" in SERVICES[name]["volumes"]  # compute logs
    assert _env(SERVICES["dagster-code"])["DAGSTER_DEPLOYMENT"].startswith("${DAGSTER_DEPLOYMENT:-prod}")
    # The image puts the same instance where DAGSTER_HOME points.
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile
    assert re.search(r"COPY .*orchestration/instance/prod\.yaml /opt/dagster/home/dagster\.yaml", dockerfile)
    assert re.search(r"RUN uv sync --frozen --no-dev\s*$", dockerfile, re.MULTILINE)


def _names_the_code_reads() -> set[str]:
    pattern = re.compile(
        r"""(?:getenv|EnvVar|_optional_secret|_csv|source_mode|environ\.get|environ\[|env_var)\(?\s*['"]([A-Z][A-Z0-9_]*)['"]"""
    )
    files = [
        *REPO.glob("orchestration/**/*.py"),
        *REPO.glob("assets/**/*.py"),
        *REPO.glob("spark/**/*.py"),
        REPO / "dbt/profiles.yml",
        REPO / "dbt/dbt_project.yml",
    ]
    return {name for path in files for name in pattern.findall(path.read_text())}


def test_code_server_environment_matches_what_the_code_reads():
    env = _env(SERVICES["dagster-code"])
    profiles = (REPO / "orchestration/profiles.py").read_text()
    required = set(re.findall(r'dg\.EnvVar\("([A-Z0-9_]+)"\)', profiles))  # fail at run start if unset
    assert required and required <= set(env), f"dagster-code lacks {required - set(env)}"
    instance_vars = set(re.findall(r"env:\s*([A-Z0-9_]+)", (REPO / "orchestration/instance/prod.yaml").read_text()))
    read_by_dagster = {"DAGSTER_HOME", "DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT", "DAGSTER_MODULE_NAME"}
    unread = set(env) - _names_the_code_reads() - instance_vars - read_by_dagster
    assert not unread, f"variables no code reads (a typo?): {sorted(unread)}"


def test_workspace_file_points_at_the_code_server():
    workspace = yaml.safe_load((REPO / "orchestration/instance/workspace.compose.yaml").read_text())
    (entry,) = workspace["load_from"]
    server = entry["grpc_server"]
    command = SERVICES["dagster-code"]["command"]
    assert server["host"] in SERVICES and server["host"] == "dagster-code"
    assert str(server["port"]) == command[command.index("-p") + 1]
    assert server["location_name"] == command[command.index("--location-name") + 1] == "airstream"
    for name in ("dagster-webserver", "dagster-daemon"):
        path = SERVICES[name]["command"][SERVICES[name]["command"].index("-w") + 1]
        assert path.startswith("/app/") and (REPO / path.removeprefix("/app/")).is_file(), name  # WORKDIR /app


def test_bind_mounts_and_build_context_exist():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_file(), f"{name}: {source}"
            else:
                assert source in RAW["volumes"], f"{name}: named volume {source} is not declared"


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv", "data", ".dagster_home", "dbt/target"} <= ignored


def test_image_dbt_parse_step_builds_the_manifest_offline(tmp_path):
    """The Dockerfile's `dbt parse` step, run on a copy of dbt/: no warehouse is reachable, as
    in `docker build`."""
    (step,) = re.findall(r"^RUN (cd dbt && dbt parse .*)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    shutil.copytree(REPO / "dbt", tmp_path / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DO_NOT_TRACK": "1",
        "DATA_DIR": str(tmp_path / "lake"),
        "WAREHOUSE_HOST": "warehouse.invalid",
    }
    done = subprocess.run(
        ["sh", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=WAIT_SECONDS
    )
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((tmp_path / "dbt/target/manifest.json").read_text())
    models = {path.stem for path in (REPO / "dbt/models").rglob("*.sql")}
    assert models <= {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}


# ------------------------------------------------------------------ the Spark services, run here


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_command(service: str, flags: dict[str, str], args: dict[str, str] | None = None) -> list[str]:
    """The service's compose command with flag values, and whole arguments, swapped."""
    command = [str(part) for part in SERVICES[service]["command"]]
    for flag, value in flags.items():
        command[command.index(flag) + 1] = value
    command = [(args or {}).get(part, part) for part in command]
    return [str(BIN / command[0]), *command[1:]]


def _healthy(service: str, replace: dict[str, str]) -> bool:
    kind, *test = SERVICES[service]["healthcheck"]["test"]
    argv = [(BIN / "python") if part == "python" else part for part in test]
    argv = [str(part) for part in argv]
    for old, new in replace.items():
        argv = [part.replace(old, new) for part in argv]
    argv = argv if kind == "CMD" else ["sh", "-c", argv[0]]
    return subprocess.run(argv, capture_output=True, timeout=WAIT_SECONDS).returncode == 0


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            return json.load(response).get("aliveworkers", 0)
    except OSError:
        return 0


DRIVER = """
import sys
from orchestration.resources.spark import SESSION_CONF, SparkResource

conf = {**SESSION_CONF, "spark.sql.shuffle.partitions": "2", "spark.executor.memory": "512m"}
session = SparkResource(master=sys.argv[1], driver_memory="512m", spark_config=conf, prestart=False).get_session()
def where(_):
    import spark.transforms.measurements  # the project's code, imported on the executor
    return sys.executable
print("EXECUTORS", sorted(set(session.sparkContext.parallelize(range(4), 2).map(where).collect())))
session.range(1000).write.mode("overwrite").parquet(sys.argv[2])  # written by the executors
print("ROWS", session.read.parquet(sys.argv[2]).count())
session.stop()
"""


# A free port is free when picked, not when the daemon binds it: another process (a second test
# run on the machine) can take it in between. Spark would then quietly bind the next port and
# the test would poll someone else's UI, so the daemons may not move (`spark.port.maxRetries`
# 0): a taken port makes one exit on a bind error, and the cluster starts again on new ports.
# The master's REST submission port is fixed (6066), and a second run's master holds it: without
# retries it is bound on a port of its own choosing (0), or the master half-starts and never
# answers its worker.
NO_PORT_RETRIES = "-Dspark.port.maxRetries=0 -Dspark.master.rest.port=0"
BIND_FAILED = ("java.net.BindException", "Address already in use")
CLUSTER_STARTS = 3


class PortTaken(Exception):
    """A daemon exited because a port picked for it was taken before it bound it."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The compose commands of spark-master and spark-worker (hosts and ports moved to loopback),
    run here until their healthchecks pass: (master URL, master UI port, environment, work dir)."""
    env = {
        # A classic driver, as in prod: no Connect mode inherited from this process's sessions.
        **{k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    for start in range(1, CLUSTER_STARTS + 1):
        tmp_path = tmp_path_factory.mktemp("cluster")
        procs = []
        try:
            url, ui = _start_cluster(tmp_path, env, procs)
        except PortTaken:
            _stop(*procs)
            if start == CLUSTER_STARTS:
                raise
            continue
        try:
            yield url, ui, env, tmp_path
        finally:
            _stop(*procs)
        return


def _start_cluster(tmp_path: Path, env: dict, procs: list) -> tuple[str, int]:
    """Master and worker on new loopback ports, until both are healthy: (master URL, UI port).
    Raises PortTaken when a daemon exited on a bind error; any other exit fails the test."""
    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    master = _spark_command("spark-master", {"--host": "127.0.0.1", "--port": str(port), "--webui-port": str(ui)})
    worker = _spark_command(
        "spark-worker",
        {"--cores": "1", "--memory": "2g", "--work-dir": str(tmp_path / "work"), "--webui-port": str(worker_ui)},
        {"spark://spark-master:7077": url},
    )
    daemon_env = {**env, "SPARK_DAEMON_JAVA_OPTS": f"{env.get('SPARK_DAEMON_JAVA_OPTS', '')} {NO_PORT_RETRIES}".strip()}
    for argv, log in ((master, "master.log"), (worker, "worker.log")):
        procs.append(_spawn(argv, daemon_env, tmp_path / log))
    logs = lambda: "\n".join((tmp_path / n).read_text()[-2000:] for n in ("master.log", "worker.log"))  # noqa: E731

    def healthy_cluster() -> bool:
        if any(proc.poll() is not None for proc in procs):
            if any(marker in logs() for marker in BIND_FAILED):
                raise PortTaken(logs())
            pytest.fail(f"a Spark process exited\n{logs()}")
        return (
            _alive_workers(ui) >= 1
            and _healthy("spark-master", {":8080": f":{ui}"})
            and _healthy("spark-worker", {":8081": f":{worker_ui}"})
        )

    wait_until("healthy Spark cluster", healthy_cluster, logs, interval=0.5)
    return url, ui


def _spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(*procs: subprocess.Popen) -> None:
    """SIGTERM to every daemon's process group at once, SIGKILL after 15 s: one by one, a busy
    machine paid the grace of each in turn (30 s of a CI run's teardown)."""
    stop_together([(proc, signal.SIGTERM) for proc in procs], grace=15, groups=True)


def test_spark_master_and_worker_commands_run_a_cluster(cluster):
    """A classic driver built by SparkResource with a spark:// URL runs on the compose cluster."""
    url, _ui, env, tmp_path = cluster
    lake = tmp_path / "lake" / "probe"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, url, str(lake)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"EXECUTORS {[sys.executable]!r}" in done.stdout
    assert "ROWS 1000" in done.stdout


CONNECT_CLIENT = """
import sys
from pyspark.sql import functions as F
from orchestration.resources.spark import SparkResource

session = SparkResource(remote=sys.argv[1], prestart=False).get_session()
frame = session.range(100_000).withColumn("k", F.col("id") % 7)
frame.write.mode("overwrite").partitionBy("k").parquet(sys.argv[2])  # written by the executors
back = session.read.parquet(sys.argv[2])
print("ROWS", back.count(), "KEYS", back.select("k").distinct().count())
print("PER_KEY", sorted(tuple(r) for r in back.groupBy("k").count().collect())[:2])
session.stop()
"""


def _connect_apps(ui_port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return [a for a in json.load(response).get("activeapps", []) if a["name"] == "airstream Spark Connect"]


def test_spark_connect_command_serves_runs_on_the_cluster(cluster):
    """The compose spark-connect service's command (`spark_server serve`), pointed at the cluster:
    its healthcheck passes, a client session as the code location builds it (sc://, from
    SPARK_MASTER_URL) runs a job whose tasks the cluster's executor runs (a write, a shuffle and
    reads), and the cluster lists the server as its application."""
    url, ui, env, tmp_path = cluster
    port = _free_port()
    command = [str(part) for part in SERVICES["spark-connect"]["command"]]
    command[command.index("--master") + 1] = url
    command[command.index("--driver-memory") + 1] = "1g"
    argv = [str(BIN / "python"), *command[1:]]
    assert _env(SERVICES["spark-connect"])["SPARK_REMOTE"] == "sc://0.0.0.0:15002"
    server_env = env | {"SPARK_REMOTE": f"sc://127.0.0.1:{port}", "SPARK_CONNECT_HOME": str(tmp_path / "connect")}
    server = _spawn(argv, server_env, tmp_path / "connect.log")
    try:
        log = lambda: (tmp_path / "connect.log").read_text()[-3000:]  # noqa: E731

        def healthy() -> bool:
            assert server.poll() is None, f"the Connect server exited\n{log()}"
            return _healthy("spark-connect", {"15002": str(port)})

        wait_until("healthy Spark Connect server", healthy, log, interval=0.5)
        assert _env(SERVICES["dagster-code"])["SPARK_MASTER_URL"] == "sc://spark-connect:15002"
        client_env = env | {"SPARK_REMOTE": f"sc://127.0.0.1:{port}"}
        done = subprocess.run(
            [sys.executable, "-c", CONNECT_CLIENT, f"sc://127.0.0.1:{port}", str(tmp_path / "lake" / "connect")],
            cwd=REPO,
            env=client_env,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        assert done.returncode == 0, done.stderr[-3000:] + log()
        assert "ROWS 100000 KEYS 7" in done.stdout
        assert "PER_KEY [(0, 14286), (1, 14286)]" in done.stdout
        (app,) = _connect_apps(ui)
        assert app["cores"] >= 1, app
        assert "SerializedLambda" not in log()
    finally:
        _stop(server)
