-- featsql golden SQL: dataframe_entity (snowflake)
-- the labels as an uploaded DataFrame (bounds known as constants)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    *
  FROM "featsql_entity_<upload>"
), "featsql_0_keys" AS (
  SELECT DISTINCT
    "e"."driver_id" AS "__featsql_k0",
    "e"."event_timestamp" AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_0_rows" AS (
  SELECT
    "f"."DRIVER_ID" AS "__featsql_k0",
    "f"."EVENT_TIMESTAMP" AS "__featsql_fts",
    "f"."CREATED" AS "__featsql_created",
    "f"."CONV_RATE" AS "conv_rate",
    "f"."AVG_DAILY_TRIPS" AS "avg_daily_trips"
  FROM "ANALYTICS"."DRIVER_HOURLY_STATS" AS "f"
  WHERE
    "f"."EVENT_TIMESTAMP" <= CAST('2025-01-08 23:12:00' AS TIMESTAMPNTZ)
    AND "f"."EVENT_TIMESTAMP" >= CAST('2025-01-01 02:29:00' AS TIMESTAMPNTZ) - INTERVAL '86400 SECOND'
    AND NOT "f"."DRIVER_ID" IS NULL
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY "f"."DRIVER_ID", "f"."EVENT_TIMESTAMP"
      ORDER BY "f"."CREATED" DESC NULLS LAST, "f"."CONV_RATE" DESC NULLS LAST, "f"."AVG_DAILY_TRIPS" DESC NULLS LAST
    ) = 1
), "featsql_0" AS (
  SELECT
    "k"."__featsql_k0",
    "k"."__featsql_ts",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400 SECOND'
      THEN "r"."conv_rate"
    END AS "conv_rate",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400 SECOND'
      THEN "r"."avg_daily_trips"
    END AS "avg_daily_trips"
  FROM "featsql_0_keys" AS "k"
  ASOF JOIN "featsql_0_rows" AS "r" MATCH_CONDITION ("k"."__featsql_ts" >= "r"."__featsql_fts")
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
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
