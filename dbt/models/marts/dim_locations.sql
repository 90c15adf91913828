with

locations as (

    select * from {{ ref('stg_openaq__locations') }}

),

ranked as (

    select
        *,
        row_number() over (partition by location_id order by snapshot_on desc) as recency_rank,
        min(snapshot_on) over (partition by location_id) as first_snapshot_on,
        max(snapshot_on) over (partition by location_id) as last_snapshot_on

    from locations

),

-- The latest snapshot describes the location; a location that left the catalogue stays, so
-- facts measured while it was listed keep their dimension row.
final as (

    select
        location_id,
        location_name,
        locality,
        timezone,
        country_code,
        country_name,
        owner_name,
        provider_name,
        is_mobile,
        is_monitor,
        latitude,
        longitude,
        first_seen_utc,
        last_seen_utc,
        first_snapshot_on,
        last_snapshot_on

    from ranked
    where recency_rank = 1

)

select * from final
