"""The services' settings come from the environment, typed, in one object."""

from pathlib import Path

import pytest

from orchestration.serving.settings import from_env


def test_defaults_are_loopback_and_no_cache():
    s = from_env({})
    assert (s.profile, s.api_host, s.api_port, s.redis_url) == ("local", "127.0.0.1", 8000, None)
    assert s.duckdb_path == Path("data").resolve() / "warehouse.duckdb"
    assert (s.api_keys_path, s.api_keys_check_seconds) == (Path("data").resolve() / "api_keys.sqlite", 1.0)


def test_prod_reads_the_reader_login_and_role_from_the_environment(tmp_path):
    s = from_env(
        {
            "DAGSTER_DEPLOYMENT": "prod",
            "API_HOST": "0.0.0.0",
            "API_PORT": "9000",
            "REDIS_URL": "redis://r:6379/1",
            "API_CACHE_TTL_SECONDS": "30",
            "DATA_DIR": str(tmp_path),
            "WAREHOUSE_HOST": "db",
            "WAREHOUSE_READER_USER": "api",
            "WAREHOUSE_READER_PASSWORD": "pw",
            "WAREHOUSE_READER_ROLE": "readers",
            "API_KEYS_PATH": str(tmp_path / "keys" / "api.sqlite"),
            "API_KEYS_CHECK_SECONDS": "0.5",
        }
    )
    assert (s.api_keys_path, s.api_keys_check_seconds) == (tmp_path / "keys" / "api.sqlite", 0.5)
    assert (s.api_host, s.api_port, s.redis_url, s.cache_ttl_seconds) == ("0.0.0.0", 9000, "redis://r:6379/1", 30)
    assert (s.pg_host, s.pg_user, s.pg_password, s.reader_role) == ("db", "api", "pw", "readers")
    assert s.duckdb_path == tmp_path / "warehouse.duckdb"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DAGSTER_DEPLOYMENT": "staging"}, "DAGSTER_DEPLOYMENT must be local or prod"),
        ({"API_PORT": "eighty"}, "invalid literal for int()"),
    ],
)
def test_a_bad_setting_fails_at_start(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_env(env)
