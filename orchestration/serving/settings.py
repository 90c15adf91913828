"""The services' settings: one frozen object, read from the environment once.

The API reads the marts as the warehouse's read-only role. In prod it logs in as
`WAREHOUSE_READER_USER` (a login role made a member of `WAREHOUSE_READER_ROLE`, see
orchestration/instance/api-reader.sql) and then `SET ROLE`s to the reader role, so it holds
nothing but USAGE + SELECT on schema `marts` even if its login were granted more.
"""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingSettings:
    profile: str = "local"
    duckdb_path: Path = Path("data/warehouse.duckdb")
    snapshot_dir: Path | None = None  # default: beside the warehouse, `.serving/`
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_db: str = "warehouse"
    pg_user: str = "marts_api"
    pg_password: str | None = None
    reader_role: str = "marts_reader"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    redis_url: str | None = None
    cache_ttl_seconds: int = 300
    # How often the marts' version stamp (what cache keys carry) is read again.
    version_check_seconds: float = 1.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    metrics_days: int = 14
    # Held messages of a day that ended more than this many days ago are overdue (the same
    # HELD_MESSAGE_ALERT_DAYS as the check, orchestration/held_messages.py).
    held_alert_days: float = 2.0
    data_dir: Path = Path("data")
    # The API keys' store (api_keys.py). None: no store, hence no keys (local: open, prod: refused
    # at start); from_env always names one, so only a test builds settings without it.
    api_keys_path: Path | None = None
    # How often the API reads the key store again: a revoked key is refused within this time.
    api_keys_check_seconds: float = 1.0


def from_env(env: dict | None = None) -> ServingSettings:
    env = os.environ if env is None else env
    profile = env.get("DAGSTER_DEPLOYMENT", "local")
    if profile not in ("local", "prod"):
        raise ValueError(f"DAGSTER_DEPLOYMENT must be local or prod, got {profile!r}")
    data_dir = Path(env.get("DATA_DIR", "data")).resolve()
    return ServingSettings(
        profile=profile,
        data_dir=data_dir,
        duckdb_path=data_dir / "warehouse.duckdb",
        snapshot_dir=Path(env["API_SNAPSHOT_DIR"]) if env.get("API_SNAPSHOT_DIR") else None,
        pg_host=env.get("WAREHOUSE_HOST", "127.0.0.1"),
        pg_port=int(env.get("WAREHOUSE_PORT", "5432")),
        pg_db=env.get("WAREHOUSE_DB", "warehouse"),
        pg_user=env.get("WAREHOUSE_READER_USER", "marts_api"),
        pg_password=env.get("WAREHOUSE_READER_PASSWORD") or None,
        reader_role=env.get("WAREHOUSE_READER_ROLE", "marts_reader"),
        api_host=env.get("API_HOST", "127.0.0.1"),
        api_port=int(env.get("API_PORT", "8000")),
        redis_url=env.get("REDIS_URL") or None,
        cache_ttl_seconds=int(env.get("API_CACHE_TTL_SECONDS", "300")),
        metrics_host=env.get("METRICS_HOST", "127.0.0.1"),
        metrics_port=int(env.get("METRICS_PORT", "9464")),
        metrics_days=int(env.get("METRICS_DAYS", "14")),
        api_keys_path=Path(env["API_KEYS_PATH"]).resolve()
        if env.get("API_KEYS_PATH")
        else data_dir / "api_keys.sqlite",
        api_keys_check_seconds=float(env.get("API_KEYS_CHECK_SECONDS", "1")),
        held_alert_days=float(env.get("HELD_MESSAGE_ALERT_DAYS", "2")),
    )
