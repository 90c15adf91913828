{#- Model-level test: fails for each row where the boolean expression is false or NULL. -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
