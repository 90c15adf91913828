"""The API's keys: a name, the datasets (scopes) it may read, and only a hash of the key.

Stored in a small SQLite file on both profiles (`API_KEYS_PATH`, default
`DATA_DIR/api_keys.sqlite`; a volume of its own in compose). Not in PostgreSQL: the API's
session there is the read-only reader role (USAGE + SELECT on schema `marts`, nothing else,
see settings.py), and a key table would mean granting that role a table outside `marts` or
giving the API a second, writable login. A file needs no server, keeps the reader role exactly
as it is, and is written by one thing only: the command line (`keys.py`).

A key is `as_` followed by `secrets.token_urlsafe(32)`: 256 random bits. Only its SHA-256 is
stored. Salts and slow hashes defend guessable passwords against precomputed tables and
guessing; neither can work against 256 random bits, and a fast hash keeps the check in
microseconds on the API's cached path.
"""

import hashlib
import os
import re
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The datasets a key can be granted: user-facing names, documented in docs/api.md.
SCOPES = ("air-quality", "users", "sales", "campaigns", "web-traffic", "social", "catalog")
KEY_PREFIX = "as_"  # recognisable in a leaked config or log, for people and secret scanners
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")  # a Prometheus label value and a CLI argument

SCHEMA = (
    "create table if not exists api_keys ("
    " name text not null, key_sha256 text not null unique, scopes text not null,"
    " created_at text not null, revoked_at text)",
    # One active key per name; a revoked key keeps its row (and name) for the record.
    "create unique index if not exists api_keys_active_name on api_keys (name) where revoked_at is null",
)


class KeyStoreError(ValueError):
    """Bad input to the key store, with a message meant for the operator."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    key_sha256: str
    scopes: frozenset[str]
    created_at: str
    revoked_at: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not scopes:
        raise KeyStoreError(f"no scopes given: name one or more of {', '.join(SCOPES)} (comma-separated)")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise KeyStoreError(f"unknown scope(s) {', '.join(unknown)}: the scopes are {', '.join(SCOPES)}")
    return scopes


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise KeyStoreError(
            f"bad key name {name!r}: 1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
        )
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    def __init__(self, path: Path):
        self.path = Path(path).resolve()

    def _writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created owner-only before SQLite opens it; SQLite gives its journal the same mode.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        con = sqlite3.connect(self.path)
        for statement in SCHEMA:
            con.execute(statement)
        return con

    def create(self, name: str, scopes: tuple[str, ...]) -> str:
        """A new key, returned once: nothing but its hash is kept."""
        check_name(name)
        scopes = parse_scopes(",".join(scopes))
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with closing(self._writer()) as con, con:
            try:
                con.execute(
                    "insert into api_keys (name, key_sha256, scopes, created_at) values (?, ?, ?, ?)",
                    [name, hash_key(key), ",".join(scopes), _now()],
                )
            except sqlite3.IntegrityError as error:
                raise KeyStoreError(f"an active key named {name!r} exists: revoke it first") from error
        return key

    def revoke(self, name: str) -> None:
        with closing(self._writer()) as con, con:
            done = con.execute(
                "update api_keys set revoked_at = ? where name = ? and revoked_at is null", [_now(), name]
            )
            if done.rowcount == 0:
                raise KeyStoreError(f"no active key named {name!r} (see `python -m orchestration.serving.keys list`)")

    def keys(self) -> list[ApiKey]:
        """Every key, revoked ones included; none while the file does not exist."""
        if not self.path.exists():
            return []
        # Read-only: the API never writes the store, nor creates it.
        with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)) as con:
            try:
                # By name: `created_at` has whole seconds, so keys made within a second would
                # otherwise list in an order that depends on where the second ticked.
                rows = con.execute(
                    "select name, key_sha256, scopes, created_at, revoked_at from api_keys order by name, created_at"
                ).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):
                    return []
                raise
        return [ApiKey(n, h, frozenset(s.split(",")), c, r) for n, h, s, c, r in rows]
