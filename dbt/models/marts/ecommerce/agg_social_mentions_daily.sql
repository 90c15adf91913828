{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['created_on', 'platform'],
        on_schema_change='fail',
        pre_hook="{{ delete_partition_window('created_on') }}",
    )
}}

with

posts as (

    select * from {{ ref('stg_ecommerce__social_posts') }}
    where {{ partition_window_filter('created_on') }}

),

daily as (

    select
        created_on,
        platform,
        count(*) as posts,
        count(case when mentions <> '' then 1 end) as posts_with_mentions,
        cast(sum(coalesce(likes, 0) + coalesce(shares, 0)) as bigint) as engagement

    from posts
    group by 1, 2

),

-- string_to_array and a set-returning unnest in the select list: the same SQL in DuckDB and
-- PostgreSQL. A post without hashtags has '' (DuckDB splits it into one '', PostgreSQL into none).
post_hashtags as (

    select created_on, platform, unnest(string_to_array(hashtags, ' ')) as hashtag
    from posts
    where hashtags <> ''

),

hashtag_counts as (

    select
        created_on,
        platform,
        hashtag,
        count(*) as posts,
        row_number() over (partition by created_on, platform order by count(*) desc, hashtag) as hashtag_rank

    from post_hashtags
    where hashtag <> ''
    group by 1, 2, 3

),

top_hashtags as (

    select
        created_on,
        platform,
        {{ dbt.listagg("hashtag", "', '", "order by posts desc, hashtag") }} as top_hashtags

    from hashtag_counts
    where hashtag_rank <= 3
    group by 1, 2

),

final as (

    select
        daily.created_on,
        daily.platform,
        daily.posts,
        daily.posts_with_mentions,
        daily.engagement,
        top_hashtags.top_hashtags

    from daily
    left join top_hashtags
        on top_hashtags.created_on = daily.created_on and top_hashtags.platform = daily.platform

)

select * from final
