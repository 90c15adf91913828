"""The landing folder: where exports are dropped, one folder per source and day.

    <landing_dir>/transactions/YYYY-MM-DD/*.csv
    <landing_dir>/weblogs/YYYY-MM-DD/*.log | *.log.gz
    <landing_dir>/social/YYYY-MM-DD/*.json          (a JSON array or NDJSON)

The platform only reads it: files are never moved or deleted, so the folder stays the
sources' own record. Names starting with "." are ignored: a file being copied in under a
hidden name and renamed when complete is never read half-written. In `sample` mode the
resource also writes each day's sample exports into the folder (sample.py); in `live` mode it
writes nothing.
"""

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from assets.ecommerce.sources import SOURCES
from orchestration.resources.ecommerce.sample import sample_files


@dataclass(frozen=True)
class LandedFile:
    source: str
    day: date
    path: Path
    relative_path: str  # <source>/<day>/<name>: the file's name in the raw zone and catalogue

    @property
    def file_format(self) -> str:
        return SOURCES[self.source][0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LandingFolderResource(dg.ConfigurableResource):
    """Lists the landing folder's files; `sample` mode writes the sample exports first."""

    landing_dir: str
    # sample | live (LANDING_MODE): live writes nothing, the folder holds only the exports the
    # sources (or a hand) dropped. "files", the name live had before, still means the same.
    mode: str = "sample"

    def day_dir(self, source: str, day: date) -> Path:
        return Path(self.landing_dir) / source / day.isoformat()

    def files(self, source: str, day: date) -> list[LandedFile]:
        directory = self.day_dir(source, day)
        if not directory.is_dir():
            return []
        suffixes = SOURCES[source][1]
        return [
            LandedFile(source, day, path, f"{source}/{day.isoformat()}/{path.name}")
            for path in sorted(directory.iterdir())
            if path.is_file() and not path.name.startswith(".") and path.name.endswith(suffixes)
        ]

    def write_samples(self, day: date) -> dict[str, int]:
        """Write the day's sample exports (bytes identical on every run); returns files per source.

        A file already there is left alone, whatever it holds: a re-run changes no mtime,
        and an export dropped by hand under a sample's name is never overwritten.
        """
        written = {}
        for source in SOURCES:
            directory = self.day_dir(source, day)
            directory.mkdir(parents=True, exist_ok=True)
            files = sample_files(source, day)
            for name, data in files.items():
                target = directory / name
                if target.exists():
                    continue
                temporary = directory / f".{name}.{uuid.uuid4().hex}.tmp"
                temporary.write_bytes(data)
                os.replace(temporary, target)
            written[source] = len(files)
        return written
