"""A landed file's bytes as raw records: one row per CSV record, log line or social post.

The raw zone keeps what was received, addressed by file version: `payload` is the record's
own text (a CSV record that spans lines, quoted newlines included; a log line; a post as its
JSON text), so the quarantine can show it verbatim. Parsing that needs the whole file happens
here (RFC 4180 records, a JSON array); typing and validation are the Spark step's.
"""

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

RAW_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),  # path under the landing folder: <source>/<day>/<name>
        ("file_sha256", pa.string()),
        ("file_bytes", pa.int64()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("ingest_run_id", pa.string()),
        ("record_number", pa.int64()),  # 1-based, data records only (a CSV header is not one)
        ("header", pa.string()),  # the CSV header as received; null for other formats
        ("payload", pa.string()),
        ("fields", pa.string()),  # a CSV record's fields as a JSON array; null otherwise
    ]
)


@dataclass(frozen=True)
class Record:
    payload: str
    fields: list[str] | None = None


def decode_text(data: bytes) -> str:
    """UTF-8 with or without a BOM; an undecodable byte becomes U+FFFD, so the record is kept
    (and fails validation visibly) instead of the file being refused."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig", errors="replace")


def csv_delimiter(text: str) -> str:
    """`;` when the header line is separated by semicolons (a European-locale export, whose
    amounts then use a decimal comma: spark/transforms/ecommerce/orders.py), else `,`."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def csv_records(text: str) -> tuple[str | None, list[Record]]:
    """(header, records) of an RFC 4180 text, each record with the physical lines it spans."""
    consumed: list[str] = []
    delimiter = csv_delimiter(text)

    def lines() -> Iterator[str]:
        for line in text.splitlines(keepends=True):
            consumed.append(line)
            yield line

    header, records = None, []
    for fields in csv.reader(lines(), delimiter=delimiter, strict=False):
        payload = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        if header is None:
            header = payload
            continue
        if not payload.strip():
            continue  # a blank line (a trailing one, say) is no record
        records.append(Record(payload, fields))
    return header, records


def log_records(text: str) -> list[Record]:
    """One record per `\n`-ended line. Not str.splitlines(): it also splits at U+2028, U+0085
    and other characters a user agent may carry, cutting one request into two broken lines."""
    return [Record(line.rstrip("\r")) for line in text.split("\n") if line.strip()]


def json_records(text: str) -> list[Record]:
    """A JSON array (one record per element) or NDJSON (one per non-blank line). An array that
    does not parse is one record holding the whole text, quarantined downstream."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            documents = json.loads(stripped)
        except json.JSONDecodeError:
            return [Record(text)]
        return [Record(json.dumps(d, ensure_ascii=False)) for d in documents]
    return [Record(line) for line in text.splitlines() if line.strip()]


def split_file(file_format: str, data: bytes) -> tuple[str | None, list[Record]]:
    text = decode_text(data)
    if file_format == "csv":
        return csv_records(text)
    if file_format == "log":
        return None, log_records(text)
    if file_format == "json":
        return None, json_records(text)
    raise ValueError(f"unknown file format {file_format!r}")


def raw_batch(records: list[Record], header: str | None, file_meta: dict) -> pa.RecordBatch:
    """The records of one file version as a batch of RAW_SCHEMA; `file_meta` names the file
    (source_file, file_sha256, file_bytes, received_at, ingest_run_id)."""
    n = len(records)
    columns = {name: [value] * n for name, value in file_meta.items()}
    columns |= {
        "record_number": list(range(1, n + 1)),
        "header": [header] * n,
        "payload": [r.payload for r in records],
        "fields": [None if r.fields is None else json.dumps(r.fields, ensure_ascii=False) for r in records],
    }
    return pa.RecordBatch.from_pydict(columns, schema=RAW_SCHEMA)
