-- featsql golden SQL: dataframe_entity (duckdb)
-- the labels as an uploaded DataFrame (bounds known as constants)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    *
  FROM "featsql_entity_<upload>"
), "featsql_0_keys" AS (
  SELECT
    *,
    {'t': "__featsql_ts", 'c': CAST('infinity' AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)} AS "__featsql_order"
  FROM (
    SELECT DISTINCT
      "e"."driver_id" AS "__featsql_k0",
      "e"."event_timestamp" AS "__featsql_ts"
    FROM "featsql_entity" AS "e"
  ) AS "d"
), "featsql_0_rows" AS (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."created" AS "__featsql_created",
    "f"."conv_rate" AS "conv_rate",
    "f"."avg_daily_trips" AS "avg_daily_trips",
    {'t': "f"."event_timestamp", 'c': COALESCE("f"."created", CAST('-infinity' AS TIMESTAMP)), 'h': HASH("f"."conv_rate", "f"."avg_daily_trips")} AS "__featsql_order"
  FROM "analytics"."driver_hourly_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= CAST('2025-01-08 23:12:00' AS TIMESTAMP)
    AND "f"."event_timestamp" >= CAST('2025-01-01 02:29:00' AS TIMESTAMP) - INTERVAL '86400' SECOND
    AND NOT "f"."driver_id" IS NULL
), "featsql_0" AS (
  SELECT
    "k"."__featsql_k0",
    "k"."__featsql_ts",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400' SECOND
      THEN "r"."conv_rate"
    END AS "conv_rate",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400' SECOND
      THEN "r"."avg_daily_trips"
    END AS "avg_daily_trips"
  FROM "featsql_0_keys" AS "k"
  ASOF LEFT JOIN "featsql_0_rows" AS "r"
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
    AND "k"."__featsql_order" >= "r"."__featsql_order"
)
SELECT
  "e"."trip_id",
  "e"."driver_id",
  "e"."origin_id",
  "e"."destination_id",
  "e"."event_timestamp",
  "e"."trip_completed",
  "v0"."conv_rate" AS "conv_rate",
  "v0"."avg_daily_trips" AS "avg_daily_trips"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND "e"."event_timestamp" = "v0"."__featsql_ts"
ORDER BY
  "e"."__featsql_row"
