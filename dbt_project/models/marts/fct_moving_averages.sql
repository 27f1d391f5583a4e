{#-
    Daily close and VWAP per ticker with simple moving averages over trading days (rows, not
    calendar days). An average is null until its window is full: a 20-day average of 3 days would
    read as something it is not.
-#}

select
    ticker,
    trade_date,
    close,
    vwap,
    case when count(*) over last_5 = 5 then avg(close) over last_5 end as sma_5,
    case when count(*) over last_20 = 20 then avg(close) over last_20 end as sma_20,
    case when count(*) over last_20 = 20 then avg(volume) over last_20 end as avg_volume_20
from {{ ref('fct_daily_summary') }}
window
    last_5 as (partition by ticker order by trade_date rows between 4 preceding and current row),
    last_20 as (partition by ticker order by trade_date rows between 19 preceding and current row)
