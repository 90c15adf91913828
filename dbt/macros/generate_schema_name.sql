{#- Custom schemas are used verbatim (`marts`, not `<target schema>_marts`): both targets share
    one layout, so dagster asset keys and ad-hoc queries never depend on the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
