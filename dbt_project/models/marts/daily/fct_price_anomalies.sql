{#-
    One-minute bars whose log return is an outlier: |z| >= price_anomaly_z against the mean and
    sample standard deviation of the ticker's previous price_anomaly_lookback_bars bar returns.

    A bar's return is measured against the previous bar of the same day, so overnight gaps are
    never flagged (the first bar of a day has no return); the trailing returns may be the previous
    trading day's. A bar with fewer trailing returns than that is not scored.
-#}
{%- set lookback_bars = var('price_anomaly_lookback_bars') %}

with bars as (
    select
        ticker,
        trade_date,
        bar_start,
        close
    from {{ ref('fct_bars_1m') }}
    where {{ partition_window() }} or ({{ lookback_window() }})
),

bar_returns as (
    select
        *,
        ln(close / lag(close) over (partition by ticker, trade_date order by bar_start))
            as bar_return
    from bars
),

scored as (
    select
        *,
        avg(bar_return) over previous_bars as trailing_mean,
        stddev_samp(bar_return) over previous_bars as trailing_std,
        count(*) over previous_bars as trailing_returns
    from bar_returns
    where bar_return is not null
    window previous_bars as (
        partition by ticker order by bar_start
        rows between {{ lookback_bars }} preceding and 1 preceding
    )
)

select
    ticker,
    trade_date,
    bar_start,
    close,
    bar_return,
    trailing_mean,
    trailing_std,
    (bar_return - trailing_mean) / trailing_std as z_score
from scored
where
    {{ partition_window() }}
    and trailing_returns = {{ lookback_bars }}
    and trailing_std > 0
    and abs((bar_return - trailing_mean) / trailing_std) >= {{ var('price_anomaly_z') }}
