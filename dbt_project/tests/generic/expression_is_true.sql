{#- Every row satisfies `expression` (a row where it is null passes, as in a CHECK constraint). -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
