with

sensors as (

    select * from {{ ref('stg_openaq__sensors') }}

),

ranked as (

    select
        *,
        row_number() over (partition by sensor_id order by snapshot_on desc) as recency_rank,
        min(snapshot_on) over (partition by sensor_id) as first_snapshot_on,
        max(snapshot_on) over (partition by sensor_id) as last_snapshot_on

    from sensors

),

final as (

    select
        sensor_id,
        location_id,
        parameter_id,
        sensor_name,
        first_snapshot_on,
        last_snapshot_on

    from ranked
    where recency_rank = 1

)

select * from final
