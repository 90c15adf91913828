{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['order_id', 'order_line'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('ordered_on') }}",
    )
}}

with

orders as (

    select * from {{ ref('stg_ecommerce__orders') }}
    where {{ partition_window_filter('ordered_on') }}

),

final as (

    select
        order_id,
        order_line,
        ordered_at,
        ordered_on,
        customer_key,
        product_id,
        product_name,
        category,
        quantity,
        unit_price,
        currency,
        -- integer x decimal(18,2) is exact; the cast fails the build on overflow, never rounds.
        cast(quantity * unit_price as {{ amount_type() }}) as line_amount,
        status,
        campaign_id,
        source_file,
        file_sha256

    from orders

)

select * from final
