with

campaigns as (

    select * from {{ ref('campaigns') }}

),

final as (

    select
        cast(campaign_id as varchar) as campaign_id,
        cast(campaign_name as varchar) as campaign_name,
        cast(channel as varchar) as channel,
        cast(budget as {{ amount_type() }}) as budget,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date

    from campaigns

)

select * from final
