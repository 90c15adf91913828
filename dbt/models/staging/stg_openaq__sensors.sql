with

source as (

    select * from {{ source('clean', 'openaq_sensors') }}

),

renamed as (

    select
        ----------  ids
        cast(sensor_id as bigint) as sensor_id,
        cast(location_id as bigint) as location_id,
        cast(parameter_id as bigint) as parameter_id,

        ---------- strings
        cast(sensor_name as varchar) as sensor_name,
        cast(parameter_name as varchar) as parameter_name,
        cast(units as varchar) as units,
        cast(parameter_display_name as varchar) as parameter_display_name,

        ---------- dates
        cast(snapshot_on as date) as snapshot_on

    from source

)

select * from renamed
