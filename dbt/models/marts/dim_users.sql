{#- Type-2 history computed from every pull day in the clean table, not a dbt snapshot. A
    snapshot records what it sees when it runs: its validity dates come from the run, and a
    backfill (days run late, out of order, or re-run after a re-clean) would add or close
    versions depending on the order of the runs. Computed from all days' rows, the table is a
    pure function of clean.randomuser_users: re-running any partition, in any order, gives the
    same rows, and a re-cleaned day rewrites the history as if it had always been so. The cost
    is a full rebuild of a table that grows with the number of user versions.

    Every attribute column below is tracked: a change in any of them opens a new version, so
    each version row is true for its whole interval. The national identifier stays out. -#}
{%- set tracked = [
    'gender', 'title', 'first_name', 'last_name', 'email', 'username', 'dob_utc',
    'registered_utc', 'phone', 'cell', 'nationality', 'street_number', 'street_name', 'city',
    'state', 'country', 'postcode', 'latitude', 'longitude', 'timezone_offset',
    'timezone_description', 'picture_large', 'picture_medium', 'picture_thumbnail',
] -%}

with

users as (

    select * from {{ ref('stg_randomuser__users') }}

),

-- A row opens a version when it is the user's first, or any tracked attribute differs from
-- the user's previous pull (`is distinct from`: NULL to a value is a change, NULL to NULL not).
-- A change back to earlier values opens a new version too (A, B, A are three versions).
flagged as (

    select
        *,
        case
            when lag(ingested_on) over user_days is null then 1
            {%- for column in tracked %}
            when {{ column }} is distinct from lag({{ column }}) over user_days then 1
            {%- endfor %}
            else 0
        end as opens_version

    from users
    window user_days as (partition by user_id order by ingested_on)

),

numbered as (

    select
        *,
        sum(opens_version) over (
            partition by user_id
            order by ingested_on
            rows between unbounded preceding and current row
        ) as version_number

    from flagged

),

-- One row per version: the attributes of the pull that opened it (equal on all its pulls).
versions as (

    select
        user_id,
        version_number,
        ingested_on as valid_from,
        max(ingested_on) over (partition by user_id, version_number) as last_seen_on,
        opens_version,
        {{ tracked | join(',\n        ') }}

    from numbered

),

final as (

    select
        md5(user_id || '|' || cast(valid_from as varchar)) as user_version_key,
        user_id,
        cast(version_number as integer) as version_number,
        valid_from,
        -- Half-open [valid_from, valid_to): closed on the day the next version was first seen.
        lead(valid_from) over (partition by user_id order by valid_from) as valid_to,
        lead(valid_from) over (partition by user_id order by valid_from) is null as is_current,
        last_seen_on,
        {{ tracked | join(',\n        ') }}

    from versions
    where opens_version = 1

)

select * from final
