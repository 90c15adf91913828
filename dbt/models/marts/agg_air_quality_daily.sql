{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['location_id', 'parameter_id', 'measured_on'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('measured_on') }}",
    )
}}

with

measurements as (

    select * from {{ ref('fct_measurements') }}
    where {{ partition_window_filter('measured_on') }}

),

parameters as (

    select * from {{ ref('dim_parameters') }}

),

-- units is constant per parameter_id (the id encodes pollutant and units); grouping by it
-- keeps the grain, and the grain test fails loudly if that ever stops being true.
daily as (

    select
        location_id,
        parameter_id,
        measured_on,
        units,
        min(value) as min_value,
        avg(value) as mean_value,
        max(value) as max_value,
        count(*) as measurement_count

    from measurements
    group by location_id, parameter_id, measured_on, units

),

final as (

    select
        daily.location_id,
        daily.parameter_id,
        daily.measured_on,
        parameters.parameter_name,
        daily.units,
        daily.min_value,
        daily.mean_value,
        daily.max_value,
        daily.measurement_count,
        {{ exceeds_who_pm25_guideline(
            'parameters.parameter_name', 'daily.units', 'daily.mean_value'
        ) }} as exceeds_who_pm25_guideline

    from daily
    left join parameters
        on daily.parameter_id = parameters.parameter_id

)

select * from final
