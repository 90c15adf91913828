-- The dimensions its relationships tests point at come first, so those tests run in this
-- model's build (indirect selection `buildable`) against dimensions already rebuilt.
-- depends_on: {{ ref('dim_sensors') }}
-- depends_on: {{ ref('dim_locations') }}
-- depends_on: {{ ref('dim_parameters') }}
-- depends_on: {{ ref('dim_dates') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['sensor_id', 'period_end_utc'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('measured_on') }}",
    )
}}

with

-- Only the partition window [min_date, max_date]: the pre_hook has deleted it from the table,
-- so this run replaces it (rows gone from the source disappear too).
measurements as (

    select * from {{ ref('stg_openaq__measurements') }}
    where {{ partition_window_filter('measured_on') }}

),

final as (

    select
        sensor_id,
        location_id,
        parameter_id,
        measured_on,
        period_start_utc,
        period_end_utc,
        value,
        units,
        has_flags,
        coverage_percent,
        latitude,
        longitude

    from measurements

)

select * from final
