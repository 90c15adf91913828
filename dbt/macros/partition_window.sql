{#- The partition window [min_date, max_date] (inclusive ISO dates) that the orchestrator
    passes as --vars. Incremental marts select exactly this window and replace it. -#}
{% macro partition_window_filter(column) -%}
    {{ column }} between cast('{{ var("min_date") }}' as date) and cast('{{ var("max_date") }}' as date)
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
