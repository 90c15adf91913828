{#- Fails for each combination of combination_of_columns that occurs more than once.
    Portable (DuckDB, PostgreSQL); stands in for dbt_utils, which cannot be installed here. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as n_records
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
