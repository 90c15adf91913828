with

source as (

    select * from {{ source('clean_ecommerce', 'ecommerce_social_posts') }}

),

renamed as (

    select
        ----------  ids
        cast(post_id as varchar) as post_id,

        ---------- strings
        cast(platform as varchar) as platform,
        cast(author as varchar) as author,
        cast(text as varchar) as post_text,
        cast(lang as varchar) as lang,
        cast(mentions as varchar) as mentions,
        cast(hashtags as varchar) as hashtags,

        ---------- numerics
        cast(likes as bigint) as likes,
        cast(shares as bigint) as shares,

        ---------- dates and naive UTC timestamps
        cast(created_on as date) as created_on,
        cast(created_at as timestamp) as created_at,

        ---------- lineage
        cast(source_file as varchar) as source_file,
        cast(file_sha256 as varchar) as file_sha256

    from source

)

select * from renamed
