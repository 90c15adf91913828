-- placeholder: replaced by the lake flow's fct_orders
-- The columns and types of the lake flow's fct_orders, no rows: lets agg_campaign_daily build
-- and be tested on a branch that does not have the lake flow yet.
select
    cast(null as varchar) as order_id,
    cast(null as integer) as order_line,
    cast(null as timestamp) as ordered_at,
    cast(null as date) as ordered_on,
    cast(null as varchar) as customer_key,
    cast(null as varchar) as product_id,
    cast(null as varchar) as product_name,
    cast(null as varchar) as category,
    cast(null as integer) as quantity,
    cast(null as double precision) as unit_price,
    cast(null as varchar) as currency,
    cast(null as double precision) as line_amount,
    cast(null as varchar) as status,
    cast(null as varchar) as campaign_id,
    cast(null as varchar) as source_file,
    cast(null as varchar) as file_sha256
where 1 = 0
