"""No served credential is stored: a randomuser look-alike serves known passwords, salts and
hashes; after the users' flow of the day ran (local profile, DATA_DIR in tmp, a Dagster instance
of the local profile's kind in its own DAGSTER_HOME) every store under DATA_DIR and every store
of the instance (run storage, event log, schedules, compute logs) is searched, decoded, for each.

The users' flow is every asset downstream of the randomuser pull, and what those read besides
(the date dimension): no other asset reads anything the pull wrote, so no other asset can store
a served credential. The other flows would cost this module most of a whole-graph run and could
only add stores that never see a user."""

import hashlib
import json
import shutil
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.definitions import all_assets
from orchestration.profiles import resources_for
from orchestration.resources.kafka import batches
from orchestration.resources.randomuser import RandomUserResource, UserCall
from orchestration.resources.randomuser.sample import SampleRandomUserClient

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-20"
PATH = "/api/1.4/"
USERS = 40
SECRETS: set[str] = set()
USERS_FLOW = dg.AssetSelection.assets(["api", "randomuser_users"]).downstream().upstream()


def served_page(query: dict) -> dict:
    """Realistic users with credentials nothing else could contain; user 0 breaks the contract
    (no dob: dead-lettered at the pull), user 1 a clean rule (no email: quarantined)."""
    seed, page, count = query["seed"], int(query["page"]), int(query["results"])
    users = SampleRandomUserClient().fetch_page(seed, UserCall(page, count))
    for n, user in enumerate(users):
        password, salt = f"Pw{n:03d}-xylophone-{page}", f"Sq{n:03d}zvKw"
        secret = (password + salt).encode()
        credentials = {
            "password": password,
            "salt": salt,
            "md5": hashlib.md5(secret).hexdigest(),
            "sha1": hashlib.sha1(secret).hexdigest(),
            "sha256": hashlib.sha256(secret).hexdigest(),
        }
        user["login"].update(credentials)
        SECRETS.update(credentials.values())
    del users[0]["dob"]
    del users[1]["email"]
    return {"results": users, "info": {"seed": seed, "results": count, "page": page, "version": "1.4"}}


@pytest.fixture(scope="module")
def randomuser_api():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            body = json.dumps(served_page({k: v[0] for k, v in parse_qs(url.query).items()})).encode()
            self.send_response(200 if url.path == PATH else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}{PATH}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory) -> Path:
    """The local profile's instance (SQLite run storage and event log, compute logs on disk)."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "orchestration/instance/local.yaml", home / "dagster.yaml")
    return home


@pytest.fixture(scope="module")
def data_dir(spark, tmp_path_factory, randomuser_api, dagster_home) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp, dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("SOURCES_MODE", "sample")
        resources = resources_for("local")
        resources["randomuser"] = RandomUserResource(
            mode="live", base_url=randomuser_api, users_per_day=USERS, max_retries=0, request_timeout_seconds=5.0
        )
        result = dg.materialize(
            all_assets(), resources=resources, partition_key=DAY, instance=instance, selection=USERS_FLOW
        )
    assert result.success
    # The selection is what the docstring says: the pull, everything below it, the date dimension.
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"api/randomuser_users", "raw/randomuser_users", "clean/randomuser_users"} <= materialized
    assert {"cassandra/created_users", "marts/dim_users", "marts/users_by_country_daily"} <= materialized
    return data_dir


def texts_of(path: Path) -> tuple[str, list[str]]:
    """(kind of store, every value it holds as text), decoded: compressed Parquet pages and
    DuckDB blocks may not hold a value's bytes verbatim."""
    head = path.read_bytes()[:16]
    if head.startswith(b"PAR1"):
        return "parquet", [json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)]
    if head.startswith(b"SQLite format 3\0"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            tables = [t for (t,) in con.execute("select name from sqlite_master where type = 'table'")]
            rows = [row for t in tables for row in con.execute(f'select * from "{t}"')]
        # The embedded topic log keeps messages in compressed record batches: open them, as a
        # consumer would, so every message's key, value and headers are searched.
        rows += [
            (key, value, headers)
            for (blob,) in (con.execute("select messages from batches") if "batches" in tables else [])
            for key, value, headers in zip(*batches.decode(blob)[:3], strict=True)
        ]
        # Values stored as BLOBs come out as bytes: decode them, as a reader would.
        return "sqlite", [
            repr([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row]) for row in rows
        ] + [repr(row) for row in rows]
    if head[8:12] == b"DUCK":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
            return "duckdb", [str(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables]
    return "bytes", [path.read_bytes().decode("utf-8", "replace")]


def test_no_served_credential_is_stored_anywhere(data_dir, dagster_home):
    stores = {p: texts_of(p) for root in (data_dir, dagster_home) for p in sorted(root.rglob("*")) if p.is_file()}
    kinds = {kind for kind, _ in stores.values()}
    assert {"parquet", "sqlite", "duckdb"} <= kinds, kinds
    assert any(p.is_relative_to(dagster_home) and kind == "sqlite" for p, (kind, _) in stores.items())
    assert len(SECRETS) == 5 * USERS
    found = {
        (secret, str(p)) for p, (_, texts) in stores.items() for text in texts for secret in SECRETS if secret in text
    }
    assert not found, sorted(found)[:10]


def test_the_search_reads_the_instance(data_dir, dagster_home):
    """The control for the instance's stores: the run's own log line is found where it is kept."""
    holding = {
        str(p.relative_to(dagster_home))
        for p in sorted(dagster_home.rglob("*"))
        if p.is_file()
        if any(f"landed randomuser.users {DAY}" in t for t in texts_of(p)[1])
    }
    # The run's event log (SQLite) and its captured compute logs (stderr) both hold it.
    assert {path.split("/")[0] for path in holding} == {"history", "storage"}, holding
    assert any(path.endswith(".db") for path in holding) and any("compute_logs" in path for path in holding), holding


def test_the_search_finds_what_was_served(data_dir):
    """The control: a served, non-secret value is found in every kind of store that holds users."""
    page = served_page({"seed": f"airstream-{DAY}", "page": "1", "results": str(USERS)})["results"]
    username, email = page[5]["login"]["username"], page[5]["email"]
    holding = {
        str(p.relative_to(data_dir)).split("/")[0]
        for p in sorted(data_dir.rglob("*"))
        if p.is_file()
        if any(username in t and email in t for t in texts_of(p)[1])
    }
    assert {"topics.sqlite", "raw", "clean", "warehouse.duckdb", "cassandra.sqlite"} <= holding, holding
    dead = [t for t in texts_of(data_dir / "topics.sqlite")[1] if page[0]["login"]["uuid"] in t]
    assert dead, "the contract-breaking user was dead-lettered, so the DLQ was searched"
