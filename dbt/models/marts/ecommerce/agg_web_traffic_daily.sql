{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['requested_on'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('requested_on') }}",
    )
}}

with

requests as (

    select * from {{ ref('stg_ecommerce__weblogs') }}
    where {{ partition_window_filter('requested_on') }}

),

daily as (

    select
        requested_on,
        count(*) as requests,
        count(distinct client_key) as unique_visitors,
        count(case when status between 400 and 499 then 1 end) as client_errors,
        count(case when status between 500 and 599 then 1 end) as server_errors

    from requests
    group by 1

),

path_counts as (

    select
        requested_on,
        path,
        count(*) as requests,
        row_number() over (partition by requested_on order by count(*) desc, path) as path_rank

    from requests
    where path is not null  -- a request without a request line (a 400 or 408) names no path
    group by 1, 2

),

-- The three most requested paths of the day, most requested first (ties by path).
top_paths as (

    select
        requested_on,
        {{ dbt.listagg("path", "', '", "order by requests desc, path") }} as top_paths

    from path_counts
    where path_rank <= 3
    group by 1

),

final as (

    select
        daily.requested_on,
        daily.requests,
        daily.unique_visitors,
        cast(daily.client_errors as double precision) / daily.requests as client_error_rate,
        cast(daily.server_errors as double precision) / daily.requests as server_error_rate,
        top_paths.top_paths

    from daily
    left join top_paths on top_paths.requested_on = daily.requested_on

)

select * from final
