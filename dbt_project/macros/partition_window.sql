{#-
    The run's half-open partition window [min_date, max_date) on `trade_date`.

    Dagster passes the run's partition time window as the vars min_date / max_date (YYYY-MM-DD);
    the defaults in dbt_project.yml cover every day, so a hand-run `dbt build` rebuilds it all.
-#}

{% macro partition_window(column='trade_date') -%}
    {%- if var('min_date') >= var('max_date') -%}
        {{ exceptions.raise_compiler_error(
            "empty partition window: min_date " ~ var('min_date') ~ " is not before max_date "
            ~ var('max_date') ~ " - pass --vars '{min_date: YYYY-MM-DD, max_date: YYYY-MM-DD}'"
        ) }}
    {%- endif -%}
    {{ column }} >= date '{{ var("min_date") }}' and {{ column }} < date '{{ var("max_date") }}'
{%- endmacro %}


{#-
    Pre-hook of the partitioned incremental models: empty the window before the append, so a run
    replaces exactly its days (idempotent) and never touches the others. It runs in the model's
    transaction: a failed run leaves the previous rows in place.

    A full refresh re-creates the table from the window alone, so it is refused unless the window
    is every day (the default vars).
-#}
{% macro delete_partition_window() -%}
    {%- if execute and should_full_refresh() and not (
        var('min_date') <= '1970-01-01' and var('max_date') >= '9999-12-31'
    ) -%}
        {{ exceptions.raise_compiler_error(
            "--full-refresh of " ~ this ~ " with the window [" ~ var('min_date') ~ ", "
            ~ var('max_date') ~ ") would drop every other day - run it without min_date/max_date"
        ) }}
    {%- endif -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ partition_window() }}
    {%- endif -%}
{%- endmacro %}


{#-
    The days before the window that trailing statistics may reach into: a week covers weekends and
    holidays, so a Monday's first bars still see the previous Friday's.
-#}
{% macro lookback_window(days=7, column='trade_date') -%}
    {{ column }} >= date '{{ var("min_date") }}' - {{ days }} and {{ column }} < date '{{ var("min_date") }}'
{%- endmacro %}
