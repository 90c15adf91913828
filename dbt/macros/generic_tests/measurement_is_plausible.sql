{#- Model-level test: fails for each row whose value is a provider sentinel, lies outside the
    bounds of its parameter and units, or has no bounds row at all. The rules are the seeds
    measurement_bounds and measurement_sentinels, the same files the Spark step quarantines
    by, so the two cannot drift. The parameter name comes from dim_parameters (by id). -#}
{% test measurement_is_plausible(model, value='value', parameter_id='parameter_id', units='units') %}

with

rows_checked as (

    select
        m.{{ parameter_id }} as parameter_id,
        p.parameter_name,
        m.{{ units }} as units,
        m.{{ value }} as value
    from {{ model }} as m
    left join {{ ref('dim_parameters') }} as p
        on m.{{ parameter_id }} = p.parameter_id

)

select
    r.*,
    b.min_value,
    b.max_value,
    case
        when s.sentinel_value is not null then 'sentinel_value'
        when b.min_value is null then 'unknown_units'
        else 'implausible_value'
    end as reason
from rows_checked as r
left join {{ ref('measurement_bounds') }} as b
    on r.parameter_name = b.parameter_name and r.units = b.units
left join {{ ref('measurement_sentinels') }} as s
    on r.value = s.sentinel_value
where s.sentinel_value is not null
    or b.min_value is null
    or r.value < b.min_value
    or r.value > b.max_value

{% endtest %}
