with

source as (

    select * from {{ source('clean_ecommerce', 'ecommerce_social_posts') }}

),

renamed as (

    select
        ----------  ids
        cast(post_id as text) as post_id,

        ---------- strings
        cast(platform as text) as platform,
        cast(author as text) as author,
        cast(text as text) as post_text,
        cast(lang as text) as lang,
        cast(mentions as text) as mentions,
        cast(hashtags as text) as hashtags,

        ---------- numerics
        cast(likes as bigint) as likes,
        cast(shares as bigint) as shares,

        ---------- dates and naive UTC timestamps
        cast(created_on as date) as created_on,
        cast(created_at as timestamp) as created_at,

        ---------- lineage
        cast(source_file as text) as source_file,
        cast(file_sha256 as text) as file_sha256

    from source

)

select * from renamed
