-- The dimensions its relationships tests point at come first, so those tests run in this
-- model's build (indirect selection `buildable`) against dimensions already rebuilt.
-- depends_on: {{ ref('dim_dates') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['country', 'ingested_on'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('ingested_on') }}",
    )
}}

with

-- Only the partition window [min_date, max_date]: the pre_hook has deleted it from the table,
-- so this run replaces it (countries gone from a re-pulled day disappear too).
users as (

    select * from {{ ref('stg_randomuser__users') }}
    where {{ partition_window_filter('ingested_on') }}

),

-- Age on the pull day from the date of birth, not the API's age (computed when the API
-- answered, and from the time of day of dob_utc). The user is at least N years old iff
-- their date of birth <= ingested_on - N years: a birthday on the pull day counts as turned
-- N. Subtracting years from Feb 29 gives Feb 28 on both DuckDB and PostgreSQL, so a
-- Feb 29 birthday turns N on Mar 1 in common years. A NULL dob gets no band, which the
-- bands-sum-to-user_count test reports.
banded as (

    select
        country,
        ingested_on,
        gender,
        case
            when dob_utc is null then null
            when cast(dob_utc as date) > ingested_on - interval '18 years' then 'under_18'
            when cast(dob_utc as date) > ingested_on - interval '30 years' then '18_29'
            when cast(dob_utc as date) > ingested_on - interval '45 years' then '30_44'
            when cast(dob_utc as date) > ingested_on - interval '65 years' then '45_64'
            else '65_plus'
        end as age_band

    from users

),

-- count(...) filter (where ...) is bigint on both engines (sum of a CASE is hugeint on DuckDB).
final as (

    select
        country,
        ingested_on,
        count(*) as user_count,
        count(*) filter (where gender = 'female') as female_count,
        count(*) filter (where gender = 'male') as male_count,
        count(*) filter (where gender is null or gender not in ('female', 'male'))
            as other_gender_count,
        count(*) filter (where age_band = 'under_18') as age_under_18,
        count(*) filter (where age_band = '18_29') as age_18_29,
        count(*) filter (where age_band = '30_44') as age_30_44,
        count(*) filter (where age_band = '45_64') as age_45_64,
        count(*) filter (where age_band = '65_plus') as age_65_plus

    from banded
    group by country, ingested_on

)

select * from final
