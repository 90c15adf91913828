"""The rule that puts each dbt model in its flow's group, on the model's own tags and path."""

import pytest

from assets.dbt_models import flow_group


@pytest.mark.parametrize(
    ("props", "group"),
    [
        ({"tags": ["openaq"], "original_file_path": "models/marts/fct_measurements.sql"}, "openaq"),
        ({"tags": ["users", "daily"], "original_file_path": "models/staging/stg_randomuser__users.sql"}, "users"),
        # A future e-commerce model, by folder alone or by tag alone.
        ({"tags": [], "original_file_path": "models/marts/ecommerce/fct_orders.sql"}, "ecommerce"),
        ({"tags": [], "original_file_path": "models/ecommerce/staging/stg_shop__orders.sql"}, "ecommerce"),
        ({"tags": ["ecommerce"], "original_file_path": "models/marts/dim_customers.sql"}, "ecommerce"),
        ({"tags": ["ecommerce"], "original_file_path": "seeds/currencies.csv"}, "ecommerce"),
        # A tag wins over a folder; a file named like a flow is not a folder.
        ({"tags": ["users"], "original_file_path": "models/ecommerce/dim_buyers.sql"}, "users"),
        ({"tags": [], "original_file_path": "models/marts/openaq.sql"}, "shared"),
        ({"tags": [], "original_file_path": "models/marts/dim_dates.sql"}, "shared"),
        ({}, "shared"),
    ],
)
def test_flow_group(props, group):
    assert flow_group(props) == group
