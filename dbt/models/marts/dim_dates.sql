with

-- generate_series over timestamps with a column alias is the same SQL on DuckDB and
-- PostgreSQL (the date overload of generate_series exists only in DuckDB).
days as (

    select cast(t.d as date) as date_day
    from generate_series(
        cast('{{ var("date_spine_start") }}' as timestamp),
        cast('{{ var("date_spine_end") }}' as timestamp),
        interval '1 day'
    ) as t(d)

),

final as (

    select
        date_day,
        -- extract returns numeric on PostgreSQL and bigint on DuckDB: cast for one schema.
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month,
        -- to_char/monthname differ between the engines; a CASE is the same on both.
        cast(case cast(extract(month from date_day) as integer)
            when 1 then 'January'
            when 2 then 'February'
            when 3 then 'March'
            when 4 then 'April'
            when 5 then 'May'
            when 6 then 'June'
            when 7 then 'July'
            when 8 then 'August'
            when 9 then 'September'
            when 10 then 'October'
            when 11 then 'November'
            when 12 then 'December'
        end as varchar) as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as day_of_week,
        cast(extract(week from date_day) as integer) as iso_week,
        cast(extract(isodow from date_day) as integer) in (6, 7) as is_weekend

    from days

)

select * from final
