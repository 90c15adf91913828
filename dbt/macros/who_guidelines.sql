{#- true/false whether a daily PM2.5 mean exceeds the WHO 2021 24-hour guideline
    (var who_pm25_24h_guideline_ugm3, 15 µg/m³); NULL when the row is not PM2.5 in µg/m³,
    since the guideline says nothing about other pollutants or units. The units literal is
    OpenAQ's spelling, with the MICRO SIGN U+00B5. -#}
{% macro exceeds_who_pm25_guideline(parameter_name, units, mean_value) -%}
    case
        when {{ parameter_name }} = 'pm25' and {{ units }} = 'µg/m³'
            then {{ mean_value }} > {{ var('who_pm25_24h_guideline_ugm3') }}
    end
{%- endmacro %}
