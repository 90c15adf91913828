with

source as (

    select * from {{ source('clean', 'openaq_locations') }}

),

renamed as (

    select
        ----------  ids
        cast(location_id as bigint) as location_id,

        ---------- strings
        cast(location_name as varchar) as location_name,
        cast(locality as varchar) as locality,
        cast(timezone as varchar) as timezone,
        cast(country_code as varchar) as country_code,
        cast(country_name as varchar) as country_name,
        cast(owner_name as varchar) as owner_name,
        cast(provider_name as varchar) as provider_name,

        ---------- numerics
        cast(latitude as double precision) as latitude,
        cast(longitude as double precision) as longitude,

        ---------- booleans
        cast(is_mobile as boolean) as is_mobile,
        cast(is_monitor as boolean) as is_monitor,

        ---------- dates and naive UTC timestamps
        cast(first_seen_utc as timestamp) as first_seen_utc,
        cast(last_seen_utc as timestamp) as last_seen_utc,
        cast(snapshot_on as date) as snapshot_on

    from source

)

select * from renamed
