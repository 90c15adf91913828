with

source as (

    select * from {{ source('clean_ecommerce', 'ecommerce_orders') }}

),

renamed as (

    select
        ----------  ids
        cast(order_id as text) as order_id,
        cast(order_line as integer) as order_line,
        cast(customer_key as text) as customer_key,
        cast(product_id as text) as product_id,
        cast(campaign_id as text) as campaign_id,

        ---------- strings
        cast(product_name as text) as product_name,
        cast(category as text) as category,
        cast(currency as text) as currency,
        cast(status as text) as status,

        ---------- numerics
        cast(quantity as integer) as quantity,
        ---------- money: in currency, cents, exact (macros/money.sql)
        cast(unit_price as {{ amount_type() }}) as unit_price,
        cast(line_amount as {{ amount_type() }}) as line_amount,

        ---------- dates and naive UTC timestamps
        cast(ordered_on as date) as ordered_on,
        cast(ordered_at as timestamp) as ordered_at,
        cast(received_at as timestamp) as received_at,

        ---------- lineage
        cast(source_file as text) as source_file,
        cast(file_sha256 as text) as file_sha256

    from source

)

select * from renamed
