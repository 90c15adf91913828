with

source as (

    select * from {{ source('clean', 'openaq_measurements') }}

),

renamed as (

    select
        ----------  ids
        cast(sensor_id as bigint) as sensor_id,
        cast(location_id as bigint) as location_id,
        cast(parameter_id as bigint) as parameter_id,

        ---------- strings
        cast(parameter_name as varchar) as parameter_name,
        cast(units as varchar) as units,

        ---------- numerics
        cast(value as double precision) as value,
        cast(coverage_percent as double precision) as coverage_percent,
        cast(latitude as double precision) as latitude,
        cast(longitude as double precision) as longitude,

        ---------- booleans
        cast(has_flags as boolean) as has_flags,

        ---------- dates and naive UTC timestamps
        cast(measured_on as date) as measured_on,
        cast(period_start_utc as timestamp) as period_start_utc,
        cast(period_end_utc as timestamp) as period_end_utc,
        cast(ingested_at as timestamp) as ingested_at

    from source

)

select * from renamed
