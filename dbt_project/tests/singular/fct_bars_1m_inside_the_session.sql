{#-
    Every 1-minute bar lies inside its day's trading session, by the exchange calendar
    (MARKET_CALENDAR): lakehouse.trading_sessions, which the lakehouse plugin writes from
    exchange_calendars at each dbt start (dbt cannot call Python). A bar of a day without a
    session, before the open's minute or after the close fails. Compaction refuses such days
    unless COMPACTION_OUTSIDE_SESSION=warn publishes them (a feed that trades around the clock):
    then this test warns instead of stopping the marts.
-#}
{%- set outside_session = env_var('COMPACTION_OUTSIDE_SESSION', 'refuse') %}
{{ config(severity=('warn' if outside_session == 'warn' else 'error')) }}

select
    bars.ticker,
    bars.trade_date,
    bars.bar_start,
    sessions.open_utc,
    sessions.close_utc
from {{ ref('fct_bars_1m') }} as bars
left join lakehouse.trading_sessions as sessions
    on bars.trade_date = sessions.session_date
where
    bars.trade_date >= '{{ var("min_date") }}'
    and bars.trade_date < '{{ var("max_date") }}'
    and (
        sessions.session_date is null
        or bars.bar_start < date_trunc('minute', sessions.open_utc)
        or bars.bar_start > sessions.close_utc
    )
