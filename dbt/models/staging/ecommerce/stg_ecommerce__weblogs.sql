with

source as (

    select * from {{ source('clean_ecommerce', 'ecommerce_weblogs') }}

),

renamed as (

    select
        ----------  ids
        cast(client_key as text) as client_key,

        ---------- strings
        cast(method as text) as method,
        cast(path as text) as path,
        cast(protocol as text) as protocol,
        cast(referrer as text) as referrer,
        cast(user_agent as text) as user_agent,

        ---------- numerics
        cast(status as integer) as status,
        cast(response_bytes as bigint) as response_bytes,

        ---------- flags
        cast(invalid_utf8 as boolean) as invalid_utf8,

        ---------- dates and naive UTC timestamps
        cast(requested_on as date) as requested_on,
        cast(requested_at as timestamp) as requested_at,

        ---------- lineage
        cast(source_file as text) as source_file,
        cast(file_sha256 as text) as file_sha256,
        cast(record_number as bigint) as record_number

    from source

)

select * from renamed
