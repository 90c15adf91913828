{#- Fails unless the column is a fixed-point decimal (DuckDB DECIMAL, PostgreSQL numeric) of
    exactly this precision and scale, read from information_schema: a float (or a numeric
    without a declared scale) that slipped into a money column is an error. One failing row
    also when the column is missing. -#}
{% test decimal_type(model, column_name, precision, scale) %}

with found as (

    select data_type, numeric_precision, numeric_scale
    from information_schema.columns
    where lower(table_schema) = lower('{{ model.schema }}')
      and lower(table_name) = lower('{{ model.identifier }}')
      and lower(column_name) = lower('{{ column_name }}')

),

expected as (

    select count(*) as n from found
    where (lower(data_type) = 'numeric' or lower(data_type) like 'decimal%')
      and numeric_precision = {{ precision }}
      and numeric_scale = {{ scale }}

)

select found.* from found cross join expected where expected.n = 0
union all
select null, null, null where not exists (select 1 from found)

{% endtest %}
