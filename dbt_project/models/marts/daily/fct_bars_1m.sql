{#- One-minute OHLCV bars per ticker: the base of every other mart. -#}
select
    ticker,
    trade_date,
    date_trunc('minute', event_time) as bar_start,
    -- seq breaks ties between ticks of one microsecond; tick_id makes the order total
    first(price order by event_time, seq, tick_id) as open,
    max(price) as high,
    min(price) as low,
    last(price order by event_time, seq, tick_id) as close,
    sum(volume) as volume,
    sum(price * volume) / nullif(sum(volume), 0) as vwap,
    count(*) as trade_count
from {{ ref('stg_ticks') }}
where {{ partition_window() }}
group by ticker, trade_date, date_trunc('minute', event_time)
