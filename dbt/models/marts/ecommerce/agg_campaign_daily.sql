-- A table, rebuilt on every run rather than replaced by partition window: a day of a campaign
-- changes after it was first built, when a late event arrives with the next day's pull or the
-- shop's orders land after the ads. The grain (day x campaign) keeps the rebuild small.

with

events as (

    select * from {{ ref('stg_ads__events') }}

),

campaigns as (

    select * from {{ ref('dim_campaigns') }}

),

-- Order level: a conversion buys the order, not a line of it.
orders as (

    select
        order_id,
        campaign_id,
        sum(line_amount) as order_amount  -- decimal: exact in any order

    from {{ ref('fct_orders') }}
    group by order_id, campaign_id

),

-- The shop's order must carry the campaign the ad server credits: an order the shop never
-- exported, or attributed to another campaign, stays unattributed. An order converted twice
-- by one campaign on one day counts once.
attributed_orders as (

    select distinct
        conversions.event_date,
        conversions.campaign_id,
        orders.order_id,
        orders.order_amount

    from events as conversions
    inner join orders
        on orders.order_id = conversions.order_id
        and orders.campaign_id = conversions.campaign_id
    where conversions.event_type = 'conversion'

),

attribution as (

    select
        event_date,
        campaign_id,
        count(*) as attributed_orders,
        cast(sum(order_amount) as {{ amount_type() }}) as attributed_order_revenue

    from attributed_orders
    group by event_date, campaign_id

),

-- count(...) filter (where ...) is bigint on both engines (sum of a CASE is hugeint on DuckDB).
daily as (

    select
        event_date,
        campaign_id,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type = 'conversion') as conversions,
        count(*) filter (where is_late) as late_events,
        cast(sum(cost) as {{ micros_type() }}) as spend,
        cast(sum(revenue) as {{ micros_type() }}) as revenue

    from events
    group by event_date, campaign_id

),

final as (

    select
        daily.event_date,
        daily.campaign_id,
        campaigns.campaign_name,
        campaigns.channel,
        campaigns.campaign_id is not null as is_known_campaign,
        daily.impressions,
        daily.clicks,
        daily.conversions,
        daily.late_events,
        daily.spend,
        daily.revenue,
        -- Ratios are null, not 0 and not an error, when their denominator is 0. The money
        -- ratios (CPC, ROAS) are decimal(18,6), rounded half-up by an exact division; CTR and
        -- conversion rate are shares of counts, not money: doubles (deterministic all the same).
        cast(daily.clicks as double precision) / nullif(daily.impressions, 0) as ctr,
        {{ divide_rounded('daily.spend', 'daily.clicks', 6) }} as cpc,
        cast(daily.conversions as double precision) / nullif(daily.clicks, 0) as conversion_rate,
        {{ divide_rounded('daily.revenue', 'daily.spend', 6) }} as roas,
        coalesce(attribution.attributed_orders, 0) as attributed_orders,
        cast(coalesce(attribution.attributed_order_revenue, 0) as {{ amount_type() }}) as attributed_order_revenue

    from daily
    left join campaigns
        on campaigns.campaign_id = daily.campaign_id
    left join attribution
        on attribution.event_date = daily.event_date
        and attribution.campaign_id = daily.campaign_id

)

select * from final
