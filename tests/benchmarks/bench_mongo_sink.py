"""Benchmark: the MongoDB sink against a MongoDB-wire server started here, fresh, or the local
profile's embedded store.

    .venv/bin/python tests/benchmarks/bench_mongo_sink.py [N] [--server secantus|URI]
    PYTHONPATH=$PWD .venv/bin/python tests/benchmarks/bench_mongo_sink.py 1000000 --server embedded

Upserts N documents shaped like one landed day (sensors x 5-minute period ends, as
`to_stored` stores them) through `MongoMeasurementStore.upsert_measurements` twice: first into
an empty collection (all new), then the same documents again (all matched, the replay), then
`count_ids` of every id, and a third call with a tenth of the documents changed and a tenth new.
Prints one JSON document: seconds and documents/s of each phase, and the server's own CPU
seconds. Not a test: figures, no assertions (the counts are printed beside them).

`--server embedded`: N documents as landed batches (Arrow columns of BATCH_ROWS rows, payloads
as the producer writes them) into a fresh `EmbeddedMeasurementStore` file, twice (insert, then
the replay). Per phase: the seconds of the document-by-document mapping (`landed_documents` ->
`to_stored` -> row, the path before column-wise mapping, timed only), of the column-wise mapping
and of the SQLite writes, one batch after the other; then `upsert_landed` itself (mapping and
writes overlapped, as the sink asset runs it) into a second fresh file.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pymongo

from assets.core.rows import landed_documents
from assets.sinks import BATCH_ROWS
from orchestration.resources import mongo
from orchestration.resources.mongo import EmbeddedMeasurementStore, MongoMeasurementStore


def measurement(sensor_id: int, end: str, value: float, offset: int) -> dict:
    """A consumed OpenAQ v3 measurement, as the landing hands it over (tests/orchestration/sinks)."""
    return {
        "location_id": sensor_id // 4,
        "sensor_id": sensor_id,
        "fetched_at": "2026-11-20T01:05:00+00:00",
        "measurement": {
            "value": value,
            "parameter": {"id": 2, "name": "pm25", "units": "µg/m³"},
            "period": {
                "label": "raw",
                "interval": "00:05:00",
                "datetimeFrom": {"utc": end, "local": end},
                "datetimeTo": {"utc": end, "local": end},
            },
        },
        "kafka": {"topic": "openaq.measurements", "partition": 0, "offset": offset},
    }


def day(n: int, first_sensor: int = 0) -> list[dict]:
    ends = [f"2026-11-20T{h:02d}:{m:02d}:00Z" for h in range(24) for m in range(0, 60, 5)]  # 288 a sensor
    return [measurement(first_sensor + i // 288, ends[i % 288], 1.0 + i % 97, i) for i in range(n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_secantus(work: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    log = open(work / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port)]
        + ["--storage-path", str(work / "data")],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    uri = f"mongodb://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with pymongo.MongoClient(uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
                return uri, proc
        except pymongo.errors.PyMongoError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"SecantusDB did not answer: {(work / 'server.log').read_text()[-2000:]}")


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def landed_batches(docs: list[dict]) -> list[dict[str, pa.Array]]:
    """The documents as the sink asset hands them to a store: the lake's columns, by batch."""
    batches = []
    for start in range(0, len(docs), BATCH_ROWS):
        chunk = docs[start : start + BATCH_ROWS]
        batches.append(
            {
                # As the producer serialises a message (assets/producers.py).
                "payload": pa.array(
                    [json.dumps({k: v for k, v in d.items() if k != "kafka"}, ensure_ascii=False) for d in chunk]
                ),
                "kafka_topic": pa.array([d["kafka"]["topic"] for d in chunk]),
                "kafka_partition": pa.array([d["kafka"]["partition"] for d in chunk], pa.int32()),
                "kafka_offset": pa.array([d["kafka"]["offset"] for d in chunk], pa.int64()),
            }
        )
    return batches


def bench_embedded(n: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="airstream-bench-embedded-"))
    batches = landed_batches(day(n))
    store = EmbeddedMeasurementStore(path=str(work / "mongo.sqlite"))
    phases = {}
    with duckdb.connect() as mapper, contextlib.closing(store._connect()) as con:
        mapper.execute("set threads = 1")
        page = con.execute("pragma page_size").fetchone()[0]
        con.execute(f"pragma wal_autocheckpoint = {mongo.WAL_CHECKPOINT_BYTES // page}")
        for phase in ("insert", "replay"):
            seconds = {"map_per_document": 0.0, "map_column_wise": 0.0, "write": 0.0}
            result = mongo.NOTHING
            for batch in batches:
                start = time.perf_counter()
                mongo._rows(landed_documents({name: column.to_pylist() for name, column in batch.items()}))
                mapped = time.perf_counter()
                rows = mongo._landed_rows(mapper, batch)
                written = time.perf_counter()
                result += store._store(con, rows)
                end = time.perf_counter()
                seconds["map_per_document"] += mapped - start
                seconds["map_column_wise"] += written - mapped
                seconds["write"] += end - written
            phases[phase] = {k: round(v, 2) for k, v in seconds.items()} | {
                "result": {k: v for k, v in vars(result).items() if k != "rejected"}
            }
    fresh = EmbeddedMeasurementStore(path=str(work / "pipelined.sqlite"))
    for phase in ("insert", "replay"):
        start = time.perf_counter()
        result = fresh.upsert_landed(iter(batches))
        phases[f"upsert_landed_{phase}"] = {
            "seconds": round(time.perf_counter() - start, 2),
            "result": {k: v for k, v in vars(result).items() if k != "rejected"},
        }
    shutil.rmtree(work)
    return {
        "server": "embedded",
        "documents": n,
        "batch_rows": BATCH_ROWS,
        "load_average": os.getloadavg(),
        "phases": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=20_000)
    parser.add_argument(
        "--server", default="secantus", help="'secantus' (started here), 'embedded' or a mongodb:// URI"
    )
    parser.add_argument("--chunk-size", type=int, default=MongoMeasurementStore.model_fields["chunk_size"].default)
    args = parser.parse_args()
    if args.server == "embedded":
        print(json.dumps(bench_embedded(args.n), indent=2))
        return

    proc = None
    if args.server == "secantus":
        uri, proc = start_secantus(Path(tempfile.mkdtemp(prefix="airstream-bench-mongo-")))
    else:
        uri = args.server
    database = f"bench_{uuid.uuid4().hex[:8]}"
    store = MongoMeasurementStore(uri=uri, database=database, chunk_size=args.chunk_size)
    docs = day(args.n)
    changed = [dict(d, measurement={**d["measurement"], "value": -1.0}) for d in docs[: args.n // 10]]
    new = day(args.n // 10, first_sensor=10**6)
    phases = {}
    try:

        def timed(name, call):
            cpu, start, client_cpu = cpu_seconds(proc and proc.pid), time.perf_counter(), time.process_time()
            result = call()
            seconds, client_cpu = time.perf_counter() - start, time.process_time() - client_cpu
            server_cpu = cpu_seconds(proc and proc.pid)
            phases[name] = {
                "seconds": round(seconds, 3),
                "server_cpu_seconds": None if cpu is None else round(server_cpu - cpu, 2),
                "client_cpu_seconds": round(client_cpu, 2),
                "result": result
                if isinstance(result, int)
                else {k: v for k, v in vars(result).items() if k != "rejected"},
            }

        timed("insert", lambda: store.upsert_measurements(docs))
        timed("replay", lambda: store.upsert_measurements(docs))
        timed(
            "count_ids",
            lambda: store.count_ids(
                [f"{d['sensor_id']}:{d['measurement']['period']['datetimeTo']['utc']}" for d in docs]
            ),
        )
        timed("mixed", lambda: store.upsert_measurements(changed + new + docs[args.n // 10 :]))
    finally:
        with pymongo.MongoClient(uri) as client:
            client.drop_database(database)
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    for phase in phases.values():
        phase["documents_per_second"] = round(args.n / phase["seconds"]) if phase["seconds"] else None
    print(
        json.dumps(
            {
                "server": args.server if proc is None else "secantusdb",
                "documents": args.n,
                "chunk_size": args.chunk_size,
                "phases": phases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
