{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['ordered_on', 'category', 'currency'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('ordered_on') }}",
    )
}}

with

order_lines as (

    select * from {{ ref('fct_orders') }}
    where {{ partition_window_filter('ordered_on') }}

),

-- Cancelled and returned lines are no sale: counted apart, outside orders, items and revenue.
-- Amounts are summed per currency: no exchange rate is applied.
final as (

    select
        ordered_on,
        coalesce(category, 'unknown') as category,
        currency,
        count(distinct case when status not in ('cancelled', 'returned') then order_id end) as orders,
        cast(coalesce(sum(case when status not in ('cancelled', 'returned') then quantity end), 0) as integer) as items,
        cast(coalesce(sum(case when status not in ('cancelled', 'returned') then line_amount end), 0) as {{ amount_type() }}) as revenue,
        count(case when status in ('cancelled', 'returned') then 1 end) as cancelled_or_returned_lines

    from order_lines
    group by 1, 2, 3

)

select * from final
