-- The dimensions its relationships tests point at come first, so those tests run in this
-- model's build (indirect selection `buildable`) against dimensions already rebuilt.
-- depends_on: {{ ref('dim_locations') }}
-- depends_on: {{ ref('dim_dates') }}
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

-- Sensors report at their own interval (seconds to hours): each sensor's values are first
-- averaged per UTC hour, bucketed by the hour the period starts in, so a 30-second sensor
-- weighs no more than an hourly one. A period longer than an hour counts for its first hour.
sensor_hours as (

    select
        location_id,
        parameter_id,
        measured_on,
        units,
        sensor_id,
        date_trunc('hour', period_start_utc) as hour_utc,
        avg(value order by period_start_utc) as hour_mean,
        count(*) as measurement_count

    from measurements
    group by location_id, parameter_id, measured_on, units, sensor_id, date_trunc('hour', period_start_utc)

),

-- Several sensors of one parameter at one location: each hour is the mean of the sensors
-- that reported in it, every sensor weighing the same.
location_hours as (

    select
        location_id,
        parameter_id,
        measured_on,
        units,
        hour_utc,
        avg(hour_mean order by sensor_id) as hour_value,
        sum(measurement_count) as measurement_count

    from sensor_hours
    group by location_id, parameter_id, measured_on, units, hour_utc

),

sensors as (

    select
        location_id,
        parameter_id,
        measured_on,
        count(distinct sensor_id) as sensor_count

    from sensor_hours
    group by location_id, parameter_id, measured_on

),

-- Means are ordered aggregates: a parallel sum adds in any order, and a re-run must give the
-- same double to the last bit (the rows are replaced, not merged, but readers compare days).
-- units is constant per parameter_id (the id encodes pollutant and units); grouping by it
-- keeps the grain, and the grain test fails loudly if that ever stops being true.
daily as (

    select
        location_id,
        parameter_id,
        measured_on,
        units,
        min(hour_value) as min_value,
        avg(hour_value order by hour_utc) as mean_value,
        max(hour_value) as max_value,
        count(*) as hours_covered,
        sum(measurement_count) as measurement_count

    from location_hours
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
        daily.hours_covered,
        daily.hours_covered >= {{ var('daily_min_hours_covered') }} as meets_coverage,
        cast(sensors.sensor_count as integer) as sensor_count,
        cast(daily.measurement_count as integer) as measurement_count,
        {{ exceeds_who_pm25_guideline(
            'parameters.parameter_name', 'daily.units', 'daily.mean_value', 'daily.hours_covered'
        ) }} as exceeds_who_pm25_guideline

    from daily
    inner join sensors
        on daily.location_id = sensors.location_id
        and daily.parameter_id = sensors.parameter_id
        and daily.measured_on = sensors.measured_on
    left join parameters
        on daily.parameter_id = parameters.parameter_id

)

select * from final
