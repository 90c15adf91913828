"""The embedded stores' SQLite files opened for the first time by several processes at once (the
sensor daemon and a run on a new DATA_DIR): every process gets a working store."""

import multiprocessing
import traceback

import pytest

from orchestration.resources.cassandra import EmbeddedUserStore
from orchestration.resources.kafka import EmbeddedTopicLogResource
from orchestration.resources.mongo import EmbeddedMeasurementStore
from tests.waiting import WAIT_SECONDS

PROCESSES, ROUNDS = 6, 30
T = "randomuser.users"


def first_use(kind: str, path: str) -> int:
    if kind == "topics":
        log = EmbeddedTopicLogResource(path=path, partitions=1)
        log.ensure_topic(T)
        return sum(log.end_offsets(T).values())
    if kind == "mongo":
        return EmbeddedMeasurementStore(path=path).count()
    return EmbeddedUserStore(path=path).count()


def open_in_child(kind: str, path: str, barrier, results) -> None:
    barrier.wait()  # every process opens the fresh file at the same moment
    try:
        results.put(("ok", first_use(kind, path)))
    except BaseException:  # noqa: BLE001 - the parent reports it
        results.put(("error", traceback.format_exc()))


@pytest.mark.parametrize("kind", ["topics", "mongo", "cassandra"])
def test_processes_opening_a_new_store_at_once_all_get_it(kind, tmp_path):
    # fork: the children need not re-import dagster (2 s each); nothing is open in the parent.
    ctx = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        path = str(tmp_path / f"round-{round_}" / f"{kind}.sqlite")  # not there yet
        barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
        children = [ctx.Process(target=open_in_child, args=(kind, path, barrier, results)) for _ in range(PROCESSES)]
        for child in children:
            child.start()
        outcomes = [results.get(timeout=WAIT_SECONDS) for _ in children]
        for child in children:
            child.join(timeout=WAIT_SECONDS)
        assert [o for o in outcomes if o[0] != "ok"] == [], f"round {round_}"
        assert [child.exitcode for child in children] == [0] * PROCESSES
