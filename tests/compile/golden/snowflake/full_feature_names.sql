-- featsql golden SQL: full_feature_names (snowflake)
-- view:* and a second view, full_feature_names=True, entity SQL that renames a column to the join key
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    driver_id,
    origin_id AS location_id,
    event_timestamp
  FROM "ANALYTICS"."DRIVER_LABELS"
), "featsql_bounds" AS (
  SELECT
    MIN(
      CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ)
    ) AS "min",
    MAX(
      CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ)
    ) AS "max"
  FROM "featsql_entity" AS "e"
), "featsql_0_keys" AS (
  SELECT DISTINCT
    "e"."DRIVER_ID" AS "__featsql_k0",
    CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_0_rows" AS (
  SELECT
    "f"."DRIVER_ID" AS "__featsql_k0",
    "f"."EVENT_TIMESTAMP" AS "__featsql_fts",
    "f"."CREATED" AS "__featsql_created",
    "f"."CONV_RATE" AS "conv_rate",
    "f"."ACC_RATE" AS "acc_rate",
    "f"."AVG_DAILY_TRIPS" AS "avg_daily_trips"
  FROM "ANALYTICS"."DRIVER_HOURLY_STATS" AS "f"
  WHERE
    "f"."EVENT_TIMESTAMP" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."EVENT_TIMESTAMP" >= (
      SELECT
        "min"
      FROM "featsql_bounds"
    ) - INTERVAL '86400 SECOND'
    AND NOT "f"."DRIVER_ID" IS NULL
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY "f"."DRIVER_ID", "f"."EVENT_TIMESTAMP"
      ORDER BY "f"."CREATED" DESC NULLS LAST, "f"."CONV_RATE" DESC NULLS LAST, "f"."ACC_RATE" DESC NULLS LAST, "f"."AVG_DAILY_TRIPS" DESC NULLS LAST
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
      THEN "r"."acc_rate"
    END AS "acc_rate",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400 SECOND'
      THEN "r"."avg_daily_trips"
    END AS "avg_daily_trips"
  FROM "featsql_0_keys" AS "k"
  ASOF JOIN "featsql_0_rows" AS "r" MATCH_CONDITION ("k"."__featsql_ts" >= "r"."__featsql_fts")
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
), "featsql_1_keys" AS (
  SELECT DISTINCT
    "e"."LOCATION_ID" AS "__featsql_k0",
    CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_1_rows" AS (
  SELECT
    "f"."LOCATION_ID" AS "__featsql_k0",
    "f"."EVENT_TIMESTAMP" AS "__featsql_fts",
    "f"."AVG_WAIT" AS "avg_wait"
  FROM "ANALYTICS"."LOCATION_STATS" AS "f"
  WHERE
    "f"."EVENT_TIMESTAMP" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."EVENT_TIMESTAMP" >= (
      SELECT
        "min"
      FROM "featsql_bounds"
    ) - INTERVAL '43200 SECOND'
    AND NOT "f"."LOCATION_ID" IS NULL
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY "f"."LOCATION_ID", "f"."EVENT_TIMESTAMP"
      ORDER BY "f"."AVG_WAIT" DESC NULLS LAST
    ) = 1
), "featsql_1" AS (
  SELECT
    "k"."__featsql_k0",
    "k"."__featsql_ts",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '43200 SECOND'
      THEN "r"."avg_wait"
    END AS "avg_wait"
  FROM "featsql_1_keys" AS "k"
  ASOF JOIN "featsql_1_rows" AS "r" MATCH_CONDITION ("k"."__featsql_ts" >= "r"."__featsql_fts")
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
)
SELECT
  "e".*,
  "v0"."conv_rate" AS "driver_hourly_stats__conv_rate",
  "v0"."acc_rate" AS "driver_hourly_stats__acc_rate",
  "v0"."avg_daily_trips" AS "driver_hourly_stats__avg_daily_trips",
  "v1"."avg_wait" AS "location_stats__avg_wait"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."DRIVER_ID" = "v0"."__featsql_k0"
  AND CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) = "v0"."__featsql_ts"
LEFT JOIN "featsql_1" AS "v1"
  ON "e"."LOCATION_ID" = "v1"."__featsql_k0"
  AND CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) = "v1"."__featsql_ts"
