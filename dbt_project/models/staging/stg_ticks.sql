{#-
    Typed ticks of compacted_ticks (already validated and deduplicated upstream), one row per trade.

    No window filter here on purpose: the view is re-created in every partitioned run, but each
    model filters its own reads to the run's window and DuckDB pushes that filter through this view
    into delta_scan (EXPLAIN shows "Scanning Files: 1/N"). A window baked into the view would go
    stale between runs, and a model built alone against a stale view would empty its own window.
-#}
{{ config(tags=['partitioned']) }}

select
    cast(ticker as varchar) as ticker,
    cast(exchange as varchar) as exchange,
    cast(trade_date as date) as trade_date,
    -- Delta timestamps are UTC instants (timestamptz in DuckDB); naive UTC keeps minute bars and
    -- dates independent of the session time zone of whoever builds or reads the marts.
    event_time at time zone 'UTC' as event_time,
    cast(price as double) as price,
    cast(volume as bigint) as volume,
    cast(bid as double) as bid,
    cast(ask as double) as ask,
    cast(ask - bid as double) as spread,
    cast(seq as bigint) as seq,
    cast(tick_id as varchar) as tick_id,
    cast(kafka_partition as integer) as kafka_partition,
    cast(kafka_offset as bigint) as kafka_offset
from {{ source('lakehouse', 'compacted_ticks') }}
