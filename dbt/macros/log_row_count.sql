{#- The row count of the relation just built, logged for the orchestrator (assets/dbt_models.py
    attaches it to the model's materialization as `dagster/row_count`). Counted inside the
    build, by the connection that built it: the orchestrator cannot open the DuckDB file while
    dbt holds it, and counting afterwards would hold every event back until dbt ends. Views are
    not counted (counting one re-runs its query). -#}
{% macro log_row_count() %}
  {%- if execute and config.get('materialized') in ('table', 'incremental', 'seed') -%}
    {%- set counted = run_query('select count(*) from ' ~ this) -%}
    {{- log('airstream_row_count ' ~ (counted.columns[0].values()[0] | int), info=True) -}}
  {%- endif -%}
{% endmacro %}
