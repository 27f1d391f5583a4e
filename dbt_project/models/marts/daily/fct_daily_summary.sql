{#- Daily OHLCV, returns and realized volatility per ticker, from the one-minute bars. -#}
with bars as (
    select *
    from {{ ref('fct_bars_1m') }}
    where {{ partition_window() }}
),

days as (
    select
        ticker,
        trade_date,
        first(open order by bar_start) as open,
        max(high) as high,
        min(low) as low,
        last(close order by bar_start) as close,
        sum(volume) as volume,
        -- vwap * volume is the bar's turnover; bars without volume have a null vwap and add nothing
        sum(vwap * volume) / nullif(sum(volume), 0) as vwap,
        sum(trade_count) as trade_count
    from bars
    group by ticker, trade_date
),

bar_returns as (
    select
        ticker,
        trade_date,
        ln(close / lag(close) over (partition by ticker, trade_date order by bar_start))
            as log_return
    from bars
),

volatility as (
    -- null for a day of one bar: no return to measure
    select
        ticker,
        trade_date,
        sqrt(sum(log_return * log_return)) as realized_volatility
    from bar_returns
    group by ticker, trade_date
),

close_before_window as (
    -- The close of each ticker's latest day before the window, built by an earlier run (a
    -- ticker may have paused for days, so there is no lower bound).
    select
        ticker,
        arg_max(close, bar_start) as close
    from {{ ref('fct_bars_1m') }}
    where trade_date < date '{{ var("min_date") }}'
    group by ticker
),

with_prev_close as (
    select
        days.*,
        coalesce(
            lag(days.close) over (partition by days.ticker order by days.trade_date),
            close_before_window.close
        ) as prev_close
    from days
    left join close_before_window using (ticker)
)

select
    with_prev_close.ticker,
    with_prev_close.trade_date,
    with_prev_close.open,
    with_prev_close.high,
    with_prev_close.low,
    with_prev_close.close,
    with_prev_close.volume,
    with_prev_close.vwap,
    with_prev_close.trade_count,
    with_prev_close.prev_close,
    with_prev_close.close / with_prev_close.prev_close - 1 as day_return,
    with_prev_close.close / with_prev_close.open - 1 as intraday_return,
    volatility.realized_volatility
from with_prev_close
inner join volatility using (ticker, trade_date)
