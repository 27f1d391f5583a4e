{#-
    One-minute bars whose volume is at least volume_spike_ratio times the average of the ticker's
    previous volume_spike_lookback_bars bars. The trailing bars may be the previous trading day's
    (read from fct_bars_1m as built by earlier runs); a bar with fewer trailing bars than that, as
    on a ticker's first day, is not scored.
-#}
{%- set lookback_bars = var('volume_spike_lookback_bars') %}

with bars as (
    select
        ticker,
        trade_date,
        bar_start,
        volume
    from {{ ref('fct_bars_1m') }}
    where {{ partition_window() }} or ({{ lookback_window() }})
),

scored as (
    select
        *,
        avg(volume) over previous_bars as trailing_avg_volume,
        count(*) over previous_bars as trailing_bars
    from bars
    window previous_bars as (
        partition by ticker order by bar_start
        rows between {{ lookback_bars }} preceding and 1 preceding
    )
)

select
    ticker,
    trade_date,
    bar_start,
    volume,
    trailing_avg_volume,
    volume / trailing_avg_volume as volume_ratio
from scored
where
    {{ partition_window() }}
    and trailing_bars = {{ lookback_bars }}
    and trailing_avg_volume > 0
    and volume / trailing_avg_volume >= {{ var('volume_spike_ratio') }}
