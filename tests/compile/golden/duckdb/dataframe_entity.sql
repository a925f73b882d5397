-- featsql golden SQL: dataframe_entity (duckdb)
-- the labels as an uploaded DataFrame (bounds known as constants)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    *
  FROM "featsql_entity_<upload>"
), "featsql_0_rows" AS (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
    "f"."conv_rate" AS "conv_rate",
    "f"."avg_daily_trips" AS "avg_daily_trips",
    {'t': "f"."event_timestamp", 'c': COALESCE("f"."created", CAST('-infinity' AS TIMESTAMP)), 'h': HASH("f"."conv_rate", "f"."avg_daily_trips")} AS "__featsql_order"
  FROM "analytics"."driver_hourly_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= CAST('2025-01-08 23:12:00' AS TIMESTAMP)
    AND "f"."event_timestamp" >= CAST('2025-01-01 02:29:00' AS TIMESTAMP) - INTERVAL '86400' SECOND
    AND NOT "f"."driver_id" IS NULL
)
SELECT
  "e"."trip_id",
  "e"."driver_id",
  "e"."origin_id",
  "e"."destination_id",
  "e"."event_timestamp",
  "e"."trip_completed",
  CASE
    WHEN "v0"."__featsql_order"."t" >= "e"."event_timestamp" - INTERVAL '86400' SECOND
    THEN "v0"."conv_rate"
  END AS "conv_rate",
  CASE
    WHEN "v0"."__featsql_order"."t" >= "e"."event_timestamp" - INTERVAL '86400' SECOND
    THEN "v0"."avg_daily_trips"
  END AS "avg_daily_trips"
FROM "featsql_entity" AS "e"
ASOF LEFT JOIN "featsql_0_rows" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND CASE
    WHEN NOT "e"."event_timestamp" IS NULL
    THEN {'t': "e"."event_timestamp", 'c': CAST('infinity' AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)}
  END >= "v0"."__featsql_order"
