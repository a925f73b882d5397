-- Hourly driver KPIs: one row per driver and hour; `created` breaks ties on backfills.
select
    cast(driver_id as bigint) as driver_id,
    event_timestamp,
    created,
    cast(conv_rate as double precision) as conv_rate,
    cast(acc_rate as double precision) as acc_rate,
    cast(avg_daily_trips as integer) as avg_daily_trips
from {{ ref('driver_stats_raw') }}
