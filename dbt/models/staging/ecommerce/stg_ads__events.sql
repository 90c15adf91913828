with

source as (

    select * from {{ source('clean', 'ads_events') }}

),

renamed as (

    select
        ---------- ids
        cast(event_id as varchar) as event_id,
        cast(campaign_id as varchar) as campaign_id,
        cast(order_id as varchar) as order_id,

        ---------- strings
        cast(event_type as varchar) as event_type,

        ---------- money: EUR in micros, exact (macros/money.sql)
        cast(cost as {{ micros_type() }}) as cost,
        cast(revenue as {{ micros_type() }}) as revenue,

        ---------- booleans
        cast(is_late as boolean) as is_late,

        ---------- dates and naive UTC timestamps
        cast(event_ts as timestamp) as event_at,
        cast(event_date as date) as event_date,
        cast(ingested_on as date) as ingested_on,
        cast(ingested_at as timestamp) as ingested_at

    from source

)

select * from renamed
