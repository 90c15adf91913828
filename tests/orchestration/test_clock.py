"""The platform's one clock (assets/core/clock.py): a fixed `PLATFORM_NOW` decides which days are
partitions, which are the future and which held messages are overdue, in every process; unset,
the system clock does. The suite runs on a fixed clock (tests/conftest.py), so a machine whose
own clock is earlier than the suite's days still runs them: shown here with a clock years ahead
of any machine's."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from assets.core import clock
from assets.core.days import last_complete_day
from assets.landing.day import land_ranges
from assets.landing.held import held_days
from assets.landing.ranges import whole_day_ranges
from assets.topics import OPENAQ_TOPIC
from orchestration.held_messages import held_overdue
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.lake import LakeResource
from tests.orchestration.kafka.conftest import measurement

REPO = Path(__file__).resolve().parents[2]
AHEAD = "2030-01-02T05:00:00Z"  # ahead of any machine's clock these tests run on


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-02T05:00:00Z", datetime(2030, 1, 2, 5, tzinfo=UTC)),
        ("2030-01-02T07:00:00+02:00", datetime(2030, 1, 2, 5, tzinfo=UTC)),
        ("2030-01-02T05:00:00", datetime(2030, 1, 2, 5, tzinfo=UTC)),  # no offset: UTC
        ("2030-01-01T23:30:00-06:00", datetime(2030, 1, 2, 5, 30, tzinfo=UTC)),
    ],
)
def test_a_fixed_clock_reads_as_utc(monkeypatch, text, expected):
    monkeypatch.setenv(clock.ENV, text)
    assert clock.now() == expected
    assert clock.now().tzinfo == UTC
    assert last_complete_day() == date(2030, 1, 1)


def test_an_unreadable_clock_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv(clock.ENV, "next tuesday")
    with pytest.raises(clock.ClockError, match="PLATFORM_NOW='next tuesday' is not an ISO 8601 instant"):
        clock.now()


def test_unset_it_is_the_system_clock(monkeypatch):
    monkeypatch.delenv(clock.ENV)
    before = datetime.now(UTC)
    read = clock.now()
    assert before <= read <= datetime.now(UTC)
    assert clock.days_ahead_of_system() == 0


def test_days_ahead_of_the_system_clock(monkeypatch):
    system = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    monkeypatch.setenv(clock.ENV, "2026-11-22T06:00:00Z")
    assert clock.days_ahead_of_system(system) == -15
    monkeypatch.setenv(clock.ENV, "2026-12-08T00:00:01Z")
    assert clock.days_ahead_of_system(system) == 1
    monkeypatch.setenv(clock.ENV, "2026-12-07T00:00:00Z")
    assert clock.days_ahead_of_system(system) == 0


def _python(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != clock.ENV}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=base | env, capture_output=True, text=True, timeout=300
    )


LAST_PARTITION = "from assets.partitions import daily_partitions as p; print(p.get_last_partition_key())"


def test_the_last_partition_follows_the_clock_ahead_behind_and_unset():
    """Which partitions exist is decided when the definitions load, in each process."""
    ahead = _python(LAST_PARTITION, PLATFORM_NOW=AHEAD)
    assert ahead.returncode == 0, ahead.stderr[-2000:]
    assert ahead.stdout.split() == ["2030-01-01"]
    behind = _python(LAST_PARTITION, PLATFORM_NOW="2026-11-22T06:00:00Z")
    assert behind.stdout.split() == ["2026-11-21"], behind.stderr[-2000:]
    unset = _python(LAST_PARTITION)
    assert unset.stdout.split() == [(datetime.now(UTC) - timedelta(days=1)).date().isoformat()], unset.stderr[-2000:]


def test_make_run_default_day_is_yesterday_on_the_clock():
    printed = _python("import runpy; runpy.run_module('assets.core.clock', run_name='__main__')", PLATFORM_NOW=AHEAD)
    assert printed.stdout.split() == ["2030-01-01"], printed.stderr[-2000:]


def test_a_day_of_a_machine_clock_years_behind_materializes(tmp_path):
    """`dagster asset materialize` of a day that is a partition only on the platform's clock:
    it runs with PLATFORM_NOW, and without it Dagster refuses the day (the machine's clock)."""
    dagster = str(Path(sys.executable).parent / "dagster")
    argv = [dagster, "asset", "materialize", "-m", "orchestration.definitions"]
    argv += ["--select", "raw/openaq_locations", "--partition", "2030-01-01"]
    base = {k: v for k, v in os.environ.items() if k != clock.ENV}
    env = base | {"DAGSTER_HOME": str(tmp_path / "home"), "DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "home").mkdir()
    refused = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert "2030-01-01" in refused.stderr
    ran = subprocess.run(argv, cwd=REPO, env=env | {clock.ENV: AHEAD}, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    landed = sorted(p.name for p in (tmp_path / "data").rglob("day=*") if "openaq_locations" in str(p))
    assert landed == ["day=2030-01-01"]


def test_the_landing_holds_what_is_future_on_the_clock_and_reports_it_overdue_by_it(tmp_path, monkeypatch):
    """Landing and the overdue check with no day or instant given: both read the clock. A message
    of 2030-01-01 is held while the clock is on that day; once the clock has passed it by more
    than the threshold, it is overdue."""
    kafka = EmbeddedTopicLogResource(path=str(tmp_path / "topics.sqlite"))
    lake = LakeResource(root=str(tmp_path))
    day = date(2029, 12, 31)
    at = [datetime(2029, 12, 31, h, tzinfo=UTC) for h in range(3)] + [datetime(2030, 1, 1, 6, tzinfo=UTC)]
    for moment in at:
        kafka.produce(OPENAQ_TOPIC, [measurement(sensor_id=7, at=moment)], "openaq")
    monkeypatch.setenv(clock.ENV, "2030-01-01T12:00:00Z")  # 2029-12-31 is the newest partition
    counts = land_ranges(kafka, lake, "openaq_measurements", day, whole_day_ranges(kafka, OPENAQ_TOPIC, day))
    assert (counts["landed"], counts["deferred"], counts["held"]) == (3, 1, 1)
    assert held_days(lake, "openaq_measurements") == {date(2030, 1, 1): 1}
    monkeypatch.setenv(clock.ENV, "2030-01-04T00:00:00Z")  # 2030-01-01 ended exactly 2 days ago
    assert held_overdue(lake, "openaq_measurements", days=2) == {}
    monkeypatch.setenv(clock.ENV, "2030-01-04T00:00:01Z")
    assert held_overdue(lake, "openaq_measurements", days=2) == {date(2030, 1, 1): 1}
