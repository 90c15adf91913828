with

source as (

    select * from {{ source('clean', 'randomuser_users') }}

),

renamed as (

    select
        ----------  ids
        cast(user_id as varchar) as user_id,

        ---------- strings
        cast(gender as varchar) as gender,
        cast(title as varchar) as title,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(email as varchar) as email,
        cast(username as varchar) as username,
        cast(phone as varchar) as phone,
        cast(cell as varchar) as cell,
        cast(nationality as varchar) as nationality,
        cast(street_name as varchar) as street_name,
        cast(city as varchar) as city,
        cast(state as varchar) as state,
        cast(country as varchar) as country,
        cast(postcode as varchar) as postcode,
        cast(timezone_offset as varchar) as timezone_offset,
        cast(timezone_description as varchar) as timezone_description,
        -- "id" alone is ambiguous next to user_id: it is the national identifier (SSN, NINO...).
        cast(id_name as varchar) as national_id_name,
        cast(id_value as varchar) as national_id_value,
        cast(picture_large as varchar) as picture_large,
        cast(picture_medium as varchar) as picture_medium,
        cast(picture_thumbnail as varchar) as picture_thumbnail,

        ---------- numerics
        cast(street_number as bigint) as street_number,
        cast(latitude as double precision) as latitude,
        cast(longitude as double precision) as longitude,

        ---------- dates and naive UTC timestamps
        cast(dob_utc as timestamp) as dob_utc,
        cast(registered_utc as timestamp) as registered_utc,
        cast(ingested_on as date) as ingested_on,
        cast(ingested_at as timestamp) as ingested_at

    from source

)

select * from renamed
