{#- true/false whether a daily PM2.5 mean exceeds the WHO 2021 24-hour guideline
    (var who_pm25_24h_guideline_ugm3, 15 µg/m³); NULL when the row is not PM2.5 in µg/m³,
    since the guideline says nothing about other pollutants or units, and NULL when fewer than
    var daily_min_hours_covered (18 of 24, the 75 % rule regulators apply) hours have data:
    a mean of a few hours is not a daily mean. The units literal is OpenAQ's spelling, with
    the MICRO SIGN U+00B5. -#}
{% macro exceeds_who_pm25_guideline(parameter_name, units, mean_value, hours_covered) -%}
    case
        when {{ parameter_name }} = 'pm25' and {{ units }} = 'µg/m³'
            and {{ hours_covered }} >= {{ var('daily_min_hours_covered') }}
            then {{ mean_value }} > {{ var('who_pm25_24h_guideline_ugm3') }}
    end
{%- endmacro %}
