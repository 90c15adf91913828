{#- Money is fixed-point in every model, never a float (docs/data-flow.md, "Money"):
      amount_type()  decimal(18,2)  shop amounts: unit price, line amount, revenue, budget (cents)
      micros_type()  decimal(18,6)  ad money and rates: cost, spend, ad revenue, CPC, ROAS
    Sums of decimals are exact on both engines, so two builds of a day give the same digits
    whatever the order rows are summed in. -#}
{% macro amount_type() %}decimal(18,2){% endmacro %}
{% macro micros_type() %}decimal(18,6){% endmacro %}

{#- numerator / denominator as decimal(18, scale), rounded half away from zero (half-up for the
    non-negative figures of the marts); null when the denominator is 0. Exact on both engines:
    DuckDB divides decimals in DOUBLE, whose 0.0000005 is 4.99...e-7 (a tie rounded the wrong
    way, and differently from PostgreSQL), so the quotient is an integer division of the
    operands scaled to integers: floor((2|n| * 10^scale + |d|) / (2|d|)), signed, over 10^scale.
    Operands must have at most 6 decimals (counts, amounts, micros). The cast wraps the CASE:
    PostgreSQL drops the type modifier of a CASE with a NULL branch (a bare `numeric` column). -#}
{% macro divide_rounded(numerator, denominator, scale=6) %}
    {%- set unit = 10 ** scale -%}
    {%- set step = '0.' ~ ('0' * (scale - 1)) ~ '1' -%}
    {%- if target.type == 'duckdb' -%}
        {%- set n = "abs(cast((" ~ numerator ~ ") * 1000000 as hugeint))" -%}
        {%- set d = "abs(cast((" ~ denominator ~ ") * 1000000 as hugeint))" -%}
        cast(case when ({{ denominator }}) = 0 then null else
            cast(
                sign({{ numerator }}) * sign({{ denominator }})
                * ((2 * {{ n }} * {{ unit }} + {{ d }}) // (2 * {{ d }}))
            as decimal(30, 0)) * cast('{{ step }}' as decimal({{ scale + 1 }}, {{ scale }}))
        end as decimal(18, {{ scale }}))
    {%- else -%}
        {%- set n = "abs(cast(" ~ numerator ~ " as numeric))" -%}
        {%- set d = "abs(cast(" ~ denominator ~ " as numeric))" -%}
        cast(case when ({{ denominator }}) = 0 then null else
            sign(cast({{ numerator }} as numeric)) * sign(cast({{ denominator }} as numeric))
            * div(2 * {{ n }} * {{ unit }} + {{ d }}, 2 * {{ d }}) / {{ unit }}
        end as numeric(18, {{ scale }}))
    {%- endif -%}
{% endmacro %}
