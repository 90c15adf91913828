{#- The partition window [min_date, max_date] (inclusive ISO dates). Incremental marts select
    exactly this window and replace it. The orchestrator passes it in the environment
    (DBT_PARTITION_MIN_DATE, DBT_PARTITION_MAX_DATE), read only at execution: a --vars value
    and an env_var read while parsing are both part of dbt's parse state, and a window that
    changes every run would make every invocation re-parse the whole project. A var of the same
    name (`dbt build --vars`, a unit test's overrides) wins; neither set means every day. -#}
{% macro partition_window_filter(column) -%}
    {{ column }} between cast('{{ partition_window_bound("min_date", "1970-01-01") }}' as date)
        and cast('{{ partition_window_bound("max_date", "2999-12-31") }}' as date)
{%- endmacro %}


{% macro partition_window_bound(name, every_day) -%}
    {%- set passed = var(name, none) -%}
    {%- if passed is not none -%}
        {{ passed }}
    {%- elif execute -%}
        {{ env_var("DBT_PARTITION_" ~ (name | upper), every_day) }}
    {%- else -%}
        {{ every_day }}
    {%- endif -%}
{%- endmacro %}


{#- pre_hook for incremental marts: delete the whole window before delete+insert. delete+insert
    on the grain key alone would keep rows that vanished from the source (a sensor that stopped
    reporting, a day re-cleaned with fewer rows); deleting the window makes a re-run a replace.
    Runs inside the model's transaction, so readers never see the window empty. Renders to
    nothing on the first run and on --full-refresh (the table is rebuilt from the window). -#}
{% macro delete_partition_window(column='measured_on') -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ partition_window_filter(column) }}
    {%- endif -%}
{%- endmacro %}
