"""assets/core is the platform's pure core: it imports without Dagster, and its mappings and
rules are the ones every layer uses. The landing (assets/landing/) is a row of steps a day
passes once each, in order."""

import ast
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from assets.core.days import FIRST_DAY, last_complete_day, record_day
from assets.core.event_time import parse_utc, period_start
from assets.core.rows import COLUMNS, landed_documents, to_stored
from assets.core.stream import Record
from spark.schemas.clean_users import CLEAN_USER_COLUMNS

REPO = Path(__file__).resolve().parents[2]
BLOCK_DAGSTER = """
import importlib, pkgutil, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "dagster" or name.startswith(("dagster.", "dagster_")):
            raise ImportError("dagster is blocked: " + name)
sys.meta_path.insert(0, Blocked())
import assets.core
for module in pkgutil.iter_modules(assets.core.__path__):
    importlib.import_module("assets.core." + module.name)
print(sorted(m for m in sys.modules if m.startswith("assets.core.")))
"""


def test_the_landing_steps_import_with_dagster_blocked():
    steps = "import assets.landing.ranges, assets.landing.legacy, assets.landing.decode, assets.landing.write, "
    script = BLOCK_DAGSTER.split("import assets.core")[0] + steps + "assets.landing.held, assets.landing.day"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_core_imports_with_dagster_blocked():
    done = subprocess.run([sys.executable, "-c", BLOCK_DAGSTER], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "assets.core.rows" in done.stdout and "assets.core.codec" in done.stdout


def test_one_event_time_rule_for_every_reader():
    assert parse_utc("2026-11-20T05:00:00Z") == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert parse_utc("2026-11-20T06:00:00+01:00") == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert parse_utc("2026-11-20T05:00:00") == datetime(2026, 11, 20, 5, tzinfo=UTC)  # UTC by name
    assert parse_utc("garbage") is None and parse_utc(None) is None and parse_utc(17) is None
    measurement = {"period": {"datetimeFrom": {"utc": "2026-11-20T05:00:00"}, "datetimeTo": {"utc": "bad"}}}
    assert period_start(measurement) == datetime(2026, 11, 20, 5, tzinfo=UTC)


def test_record_day_from_the_header_else_the_timestamp_never_before_the_first_day():
    at = int(datetime(2026, 11, 20, 23, 59, tzinfo=UTC).timestamp() * 1000)
    assert record_day(Record("t", 0, 0, None, b"{}", {}, at)) == date(2026, 11, 20)
    assert record_day(Record("t", 0, 0, None, b"{}", {"partition_day": "2026-11-19"}, at)) == date(2026, 11, 19)
    assert record_day(Record("t", 0, 0, None, b"{}", {"partition_day": "2020-01-01"}, at)) == FIRST_DAY
    assert last_complete_day(datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)) == date(2026, 11, 20)


def test_landed_rows_become_their_mongo_documents_in_order():
    payload = (
        '{"sensor_id": %d, "location_id": 3, "measurement": {"period": {"datetimeTo": {"utc": '
        '"2026-11-20T01:00:00+00:00"}}, "parameter": {"id": 2, "name": "pm25"}}}'
    )
    columns = {
        "payload": [payload % 7, payload % 8],
        "kafka_topic": ["openaq.measurements"] * 2,
        "kafka_partition": [1, 2],
        "kafka_offset": [42, 9],
    }
    docs = landed_documents(columns)
    assert [doc["kafka"] for doc in docs] == [
        {"topic": "openaq.measurements", "partition": 1, "offset": 42},
        {"topic": "openaq.measurements", "partition": 2, "offset": 9},
    ]
    stored = to_stored(docs[1])
    assert stored["_id"] == "8:2026-11-20T01:00:00Z" and stored["raw"] is docs[1]


def test_the_cassandra_columns_map_the_whole_clean_users_contract_once():
    fields = [field for _, _, field in COLUMNS if field]
    assert sorted(fields) == sorted(CLEAN_USER_COLUMNS)


# Calls that list a directory. The lake is listed in one place (assets/core/lake_days.py: a
# table's days, a day's files, pinned to the day's current version); an asset that lists a day
# itself reads whatever is there, a swap's half included, and knows the lake's layout.
LISTING = {"glob", "rglob", "iterdir", "listdir", "scandir", "walk"}
# Modules that list something else: the data contracts ship with the code, they are no lake.
LISTS_NO_LAKE = {"assets/core/lake_days.py", "assets/core/contracts.py"}


def listing_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    named = [f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None) for f in calls]
    imports = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names]
    return sorted({name for name in named if name in LISTING} | {m for m in imports if m in {"glob", "fnmatch"}})


def test_only_lake_days_lists_the_lake():
    found = {
        str(path.relative_to(REPO)): calls
        for path in sorted((REPO / "assets").rglob("*.py"))
        if str(path.relative_to(REPO)) not in LISTS_NO_LAKE and (calls := listing_calls(path))
    }
    assert found == {}
    assert listing_calls(REPO / "assets" / "core" / "lake_days.py") == ["glob"]  # the scan sees the one place


# The landing's modules in the order a day passes them (assets/landing/__init__.py).
LANDING_STEPS = ["config", "ranges", "legacy", "decode", "write", "held", "day", "asset"]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_a_day_passes_each_landing_module_once_in_order():
    package = REPO / "assets" / "landing"
    assert sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__") == sorted(LANDING_STEPS)
    for i, step in enumerate(LANDING_STEPS):
        imported = imported_modules(package / f"{step}.py")
        steps = {m.removeprefix("assets.landing.") for m in imported if m.startswith("assets.landing.")}
        assert steps <= set(LANDING_STEPS[:i]), f"{step} goes back to a later step: {steps - set(LANDING_STEPS[:i])}"
        if step not in ("config", "asset"):  # the run config and the asset are Dagster's; the rest is not
            assert not {m for m in imported if m.split(".")[0].startswith("dagster")}, step
        # What the steps use outside the package never leads back into it.
        for module in {m for m in imported if m.startswith("assets.") and not m.startswith("assets.landing")}:
            source = REPO / (module.replace(".", "/") + ".py")
            if source.exists():
                assert not {m for m in imported_modules(source) if m.startswith("assets.landing")}, module


def test_the_raw_zone_has_no_lock_of_its_own():
    """The landing writes through the lake's versioned swap, under the lake's lock for the day."""
    landing = sorted((REPO / "assets" / "landing").glob("*.py"))
    assert len(landing) == len(LANDING_STEPS) + 1
    assert [p.stem for p in landing if "fcntl" in imported_modules(p)] == []
    assert "fcntl" in imported_modules(REPO / "orchestration" / "resources" / "lake.py")
