"""The e-commerce flow in the code location: one lineage from the landing folder to the marts,
grouped `ecommerce`, with catalogue metadata, and the pseudonym key from the environment."""

import os

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.profiles import resources_for
from spark.schemas.clean_ecommerce import CLEAN_ORDERS, CLEAN_POSTS, CLEAN_REQUESTS, QUARANTINE

ASSETS = [
    "landing/ecommerce_files",
    "raw/ecommerce_transactions",
    "raw/ecommerce_weblogs",
    "raw/ecommerce_social",
    "clean/ecommerce_orders",
    "clean/ecommerce_orders_quarantine",
    "clean/ecommerce_weblogs",
    "clean/ecommerce_social_posts",
    "catalog/ingested_files",
    "staging/stg_ecommerce__orders",
    "marts/fct_orders",
    "marts/agg_sales_daily",
    "marts/agg_web_traffic_daily",
    "marts/agg_social_mentions_daily",
]


@pytest.fixture(params=["local", "prod"])
def graph(request, monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return build_definitions(request.param).resolve_asset_graph()


def key(path: str) -> dg.AssetKey:
    return dg.AssetKey(path.split("/"))


def test_every_ecommerce_asset_is_grouped_owned_and_described(graph):
    for path in ASSETS:
        node = graph.get(key(path))
        assert node.group_name == "ecommerce", path
        assert node.description, path
    python_assets = [p for p in ASSETS if not p.startswith(("staging/", "marts/"))]
    for path in python_assets:
        node = graph.get(key(path))
        assert node.owners == ["team:data-platform"], path
        if path != "landing/ecommerce_files":
            assert "dagster/column_schema" in node.metadata, path


def test_the_clean_tables_show_their_contracts_typed(graph):
    # The contracts the transforms' output schemas are held to (tests/spark/test_ecommerce_transforms.py).
    for path, contract in [
        ("clean/ecommerce_orders", CLEAN_ORDERS),
        ("clean/ecommerce_orders_quarantine", QUARANTINE),
        ("clean/ecommerce_weblogs", CLEAN_REQUESTS),
        ("clean/ecommerce_social_posts", CLEAN_POSTS),
    ]:
        shown = graph.get(key(path)).metadata["dagster/column_schema"].columns
        assert [(c.name, c.type) for c in shown] == [(c.name, c.type) for c in contract], path
    orders = graph.get(key("clean/ecommerce_orders")).metadata["dagster/column_schema"].columns
    assert [(c.name, c.type) for c in orders][9] == ("unit_price", "decimal(18,2)")
    assert orders[4].description == "HMAC-SHA256 of the customer's email (the email never passes)."


def test_lineage_runs_from_the_landing_folder_to_the_marts(graph):
    parents = lambda path: {k.to_user_string() for k in graph.get(key(path)).parent_keys}  # noqa: E731
    assert "landing/ecommerce_files" in parents("raw/ecommerce_transactions")
    assert "raw/ecommerce_transactions" in parents("clean/ecommerce_orders")
    assert "clean/ecommerce_orders" in parents("staging/stg_ecommerce__orders")
    assert "staging/stg_ecommerce__orders" in parents("marts/fct_orders")
    assert "marts/fct_orders" in parents("marts/agg_sales_daily")
    assert "clean/ecommerce_weblogs" in parents("staging/stg_ecommerce__weblogs")
    assert "clean/ecommerce_social_posts" in parents("staging/stg_ecommerce__social_posts")


def test_accounting_blocks_and_volume_warns(graph):
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    for source, clean in (("transactions", "orders"), ("weblogs", "weblogs"), ("social", "social_posts")):
        assert (f"clean/ecommerce_{clean}", "lines_accounted_for") in checks
        assert (f"raw/ecommerce_{source}", "volume_within_trailing_range") in checks


def test_the_local_key_is_generated_once_and_kept_private(monkeypatch, tmp_path):
    monkeypatch.delenv("PII_HASH_KEY", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    first = resources_for("local")["pseudonym_key"]
    stored = (tmp_path / "pii_hash_key").read_text()
    assert len(stored) == 64 and oct((tmp_path / "pii_hash_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.delenv("PII_HASH_KEY")
    resources_for("local")  # a second process of the same deployment
    assert os.environ["PII_HASH_KEY"] == stored
    assert isinstance(first.key, dg.EnvVar) or first.key == stored  # never a literal in code


def test_prod_takes_the_key_from_the_environment_only(monkeypatch, tmp_path):
    monkeypatch.delenv("PII_HASH_KEY", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    resources_for("prod")
    assert not (tmp_path / "pii_hash_key").exists()
