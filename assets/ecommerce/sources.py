"""The e-commerce file sources, their landing folder and the tables each one feeds."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import dagster as dg

from assets.streams import OWNER, zone_key  # noqa: F401 - the e-commerce modules read OWNER here

GROUP = "ecommerce"
LANDING_FILES = dg.AssetKey(["landing", "ecommerce_files"])

# source -> (file format, name suffixes it accepts)
SOURCES = {
    "transactions": ("csv", (".csv",)),
    "weblogs": ("log", (".log", ".log.gz")),
    "social": ("json", (".json", ".ndjson")),
}


@dataclass(frozen=True)
class Source:
    """Where one source's records go: raw/<raw_table>, clean/<clean_table>[_quarantine]."""

    name: str
    clean_table: str

    @property
    def raw_table(self) -> str:
        return f"ecommerce_{self.name}"

    @property
    def quarantine_table(self) -> str:
        return f"{self.clean_table}_quarantine"

    @property
    def raw_key(self) -> dg.AssetKey:
        return zone_key("raw", self.raw_table)

    @property
    def clean_key(self) -> dg.AssetKey:
        return zone_key("clean", self.clean_table)

    @property
    def quarantine_key(self) -> dg.AssetKey:
        return zone_key("clean", self.clean_table, "_quarantine")


TRANSACTIONS = Source("transactions", "ecommerce_orders")
WEBLOGS = Source("weblogs", "ecommerce_weblogs")
SOCIAL = Source("social", "ecommerce_social_posts")
ALL_SOURCES = (TRANSACTIONS, WEBLOGS, SOCIAL)


class LandedFileLike(Protocol):
    source: str
    day: date
    path: Path
    relative_path: str

    @property
    def file_format(self) -> str: ...


class LandingFolder(Protocol):
    mode: str

    def day_dir(self, source: str, day: date) -> Path: ...

    def files(self, source: str, day: date) -> Sequence[LandedFileLike]: ...

    def write_samples(self, day: date) -> dict[str, int]: ...
