-- Average pickup wait per location, every six hours.
select
    cast(location_id as bigint) as location_id,
    event_timestamp,
    cast(avg_wait_minutes as double precision) as avg_wait
from {{ ref('location_stats_raw') }}
