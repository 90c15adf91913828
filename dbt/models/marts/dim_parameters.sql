with

sensors as (

    select * from {{ ref('stg_openaq__sensors') }}

),

-- Parameters have no catalogue of their own here: each id is described by the latest sensors
-- snapshot that mentions it. Keyed on id: a name repeats across ids with different units
-- (no2 in µg/m³ is id 5, no2 in ppm is id 7). Ties within a snapshot prefer a row with a
-- display name, then the lowest sensor id, so the pick is deterministic.
ranked as (

    select
        *,
        row_number() over (
            partition by parameter_id
            order by
                snapshot_on desc,
                case when parameter_display_name is null then 1 else 0 end,
                sensor_id
        ) as recency_rank

    from sensors

),

final as (

    select
        parameter_id,
        parameter_name,
        units,
        parameter_display_name as display_name

    from ranked
    where recency_rank = 1

)

select * from final
