"""A CSV export dropped by hand lands once; dropping it again changes nothing; a corrected
version under the same name replaces it. In process, local profile, no sample files."""

import hashlib

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import all_assets
from orchestration.file_sensor import file_run_selection
from orchestration.profiles import resources_for

DAY = "2024-03-01"
HEADER = (
    "order_id,order_line,customer_id,customer_email,product_id,product_name,category,quantity,"
    "unit_price,currency,ordered_at,status,campaign_id"
)
FIRST = [
    HEADER,
    'O-20240301-00001,1,K1,ann@example.com,P-1,"Mug, large",kitchen,2,12.50,EUR,2024-03-01T09:00:00Z,paid,C001',
    "O-20240301-00001,2,K1,ann@example.com,P-2,Cups,kitchen,1,24.00,EUR,2024-03-01T10:30:00+01:00,paid,C001",
    "O-20240301-00002,1,K2,bob@example.com,P-3,Shoes,sports,-1,119.00,EUR,2024-03-01T11:00:00Z,paid,",
    "O-20240301-00003,1,K3,cy@example.com,P-4,Pen,stationery,1,45.00,EUR,01/03/2024 12:00,paid,",
    "O-20240301-00004,1,K4,dee@example.com,P-5,Shirt,fashion,1,59.00,EUR,2024-03-01T13:00:00Z,shipped,C003",
    "O-20240301-00004,1,K4,dee@example.com,P-5,Shirt,fashion,1,59.00,EUR,2024-03-01T13:00:00Z,shipped,C003",
]
# The export corrected: the two bad lines fixed, a price changed, order 4 removed.
CORRECTED = [
    FIRST[0],
    FIRST[1],
    FIRST[2].replace(",24.00,", ",20.00,"),
    FIRST[3].replace(",-1,", ",1,"),
    FIRST[4].replace("01/03/2024 12:00", "2024-03-01T12:00:00Z"),
]


@pytest.fixture(scope="module")
def flow(spark, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    export = data_dir / "landing" / "transactions" / DAY / "export.csv"
    export.parent.mkdir(parents=True)
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("LANDING_MODE", "live")  # nothing written: only the hand-dropped export
        mp.delenv("PII_HASH_KEY", raising=False)
        resources = resources_for("local")
        selection = file_run_selection(dg.AssetKey(["raw", "ecommerce_transactions"]))

        def run(lines: list[str]) -> dict:
            if lines is not None:
                export.write_bytes(("\r\n".join(lines) + "\r\n").encode())
            result = dg.materialize(
                all_assets(), resources=resources, partition_key=DAY, selection=selection, instance=instance
            )
            assert result.success
            return {"result": result, **state(resources, data_dir)}

        yield run, export, data_dir


def state(resources, data_dir) -> dict:
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        facts = con.execute("select * from marts.fct_orders order by order_id, order_line").fetchall()
        columns = [d[0] for d in con.description]
        quarantine = con.execute("select reason, payload from clean.ecommerce_orders_quarantine order by 1").fetchall()
        sales = con.execute("select * from marts.agg_sales_daily order by category").fetchall()
    raw = sorted(p.name for p in (data_dir / "raw" / "ecommerce_transactions" / f"day={DAY}").glob("*.parquet"))
    return {
        "facts": [dict(zip(columns, row, strict=True)) for row in facts],
        "quarantine": quarantine,
        "sales": sales,
        "raw": raw,
    }


def check(result, name: str) -> dict:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def test_a_dropped_export_lands_once_and_a_corrected_version_replaces_it(flow):
    run, export, data_dir = flow
    first = run(FIRST)
    first_sha = hashlib.sha256(export.read_bytes()).hexdigest()
    assert [(f["order_id"], f["order_line"]) for f in first["facts"]] == [
        ("O-20240301-00001", 1),
        ("O-20240301-00001", 2),
        ("O-20240301-00004", 1),
    ]
    assert {f["file_sha256"] for f in first["facts"]} == {first_sha}
    assert {f["source_file"] for f in first["facts"]} == {f"transactions/{DAY}/export.csv"}
    assert [f["line_amount"] for f in first["facts"]] == [25.0, 24.0, 59.0]
    # 10:30 at +01:00 is 09:30 UTC; an empty campaign is null
    assert str(first["facts"][1]["ordered_at"]) == "2024-03-01 09:30:00"
    assert [r for r, _ in first["quarantine"]] == ["invalid_ordered_at", "non_positive_quantity"]
    assert all("@" not in payload for _, payload in first["quarantine"]), "no email past raw"
    assert all(f["customer_key"] and "@" not in f["customer_key"] for f in first["facts"])
    accounts = check(first["result"], "lines_accounted_for")
    assert accounts["passed"]
    assert (accounts["lines_in"], accounts["clean_rows"], accounts["quarantined_rows"], accounts["duplicates"]) == (
        6,
        3,
        2,
        1,
    )

    again = run(None)  # the same file, seen again (a sensor tick, a CLI run): nothing changes
    assert {k: again[k] for k in ("facts", "quarantine", "sales", "raw")} == {
        k: first[k] for k in ("facts", "quarantine", "sales", "raw")
    }
    assert (
        again["result"]
        .asset_materializations_for_node("raw__ecommerce_transactions")[0]
        .metadata["new_file_versions"]
        .value
        == 0
    )

    corrected = run(CORRECTED)
    new_sha = hashlib.sha256(export.read_bytes()).hexdigest()
    assert [(f["order_id"], f["order_line"], f["unit_price"], f["quantity"]) for f in corrected["facts"]] == [
        ("O-20240301-00001", 1, 12.5, 2),
        ("O-20240301-00001", 2, 20.0, 1),
        ("O-20240301-00002", 1, 119.0, 1),
        ("O-20240301-00003", 1, 45.0, 1),
    ]
    assert {f["file_sha256"] for f in corrected["facts"]} == {new_sha}
    assert corrected["quarantine"] == []
    assert corrected["raw"] == sorted([f"export.csv@{first_sha[:16]}.parquet", f"export.csv@{new_sha[:16]}.parquet"])
    accounts = check(corrected["result"], "lines_accounted_for")
    assert accounts["passed"] and accounts["superseded_rows"] == 6 and accounts["lines_in"] == 4
    assert export.read_bytes().decode().count("\r\n") == 5, "the platform never rewrites a landed file"
