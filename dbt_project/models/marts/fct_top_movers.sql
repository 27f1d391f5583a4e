{#-
    The top_movers_n tickers of each day by absolute day return. Ties rank alphabetically by ticker;
    a ticker's first day (no previous close) has no return and is left out.
-#}

with ranked as (
    select
        trade_date,
        ticker,
        close,
        prev_close,
        day_return,
        row_number() over (partition by trade_date order by abs(day_return) desc, ticker) as rank
    from {{ ref('fct_daily_summary') }}
    where day_return is not null
)

select
    trade_date,
    rank,
    ticker,
    case when day_return < 0 then 'loser' else 'gainer' end as direction,
    day_return,
    close,
    prev_close
from ranked
where rank <= {{ var('top_movers_n') }}
