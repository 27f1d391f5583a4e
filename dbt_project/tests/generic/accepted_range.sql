{#-
    `column_name` lies in [min_value, max_value]; each bound is any SQL expression of the row (a
    number or another column: `low <= open <= high`). Rows where the column or a bound is null pass:
    not_null says whether nulls are allowed.

    `tolerance` widens the range relatively, for values computed in floating point: a VWAP of ticks
    at one price p is sum(p * v) / sum(v), which can land one ulp outside [p, p].
-#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, tolerance=0) %}
    select *
    from {{ model }}
    where false
    {%- if min_value is not none %}
        or {{ column_name }} < ({{ min_value }}) - abs({{ min_value }}) * {{ tolerance }}
    {%- endif %}
    {%- if max_value is not none %}
        or {{ column_name }} > ({{ max_value }}) + abs({{ max_value }}) * {{ tolerance }}
    {%- endif %}
{% endtest %}
