-- featsql golden SQL: full_feature_names (duckdb)
-- view:* and a second view, full_feature_names=True, entity SQL that renames a column to the join key
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS MATERIALIZED (
  SELECT
    driver_id,
    origin_id AS location_id,
    event_timestamp
  FROM "analytics"."driver_labels"
), "featsql_bounds" AS (
  SELECT
    MIN(CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP)) AS "min",
    MAX(CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP)) AS "max"
  FROM "featsql_entity" AS "e"
), "featsql_0_keys" AS (
  SELECT
    *,
    {'t': "__featsql_ts", 'c': CAST('infinity' AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)} AS "__featsql_order"
  FROM (
    SELECT DISTINCT
      "e"."driver_id" AS "__featsql_k0",
      CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS "__featsql_ts"
    FROM "featsql_entity" AS "e"
  ) AS "d"
), "featsql_0_rows" AS (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."created" AS "__featsql_created",
    "f"."conv_rate" AS "conv_rate",
    "f"."acc_rate" AS "acc_rate",
    "f"."avg_daily_trips" AS "avg_daily_trips",
    {'t': "f"."event_timestamp", 'c': COALESCE("f"."created", CAST('-infinity' AS TIMESTAMP)), 'h': HASH("f"."conv_rate", "f"."acc_rate", "f"."avg_daily_trips")} AS "__featsql_order"
  FROM "analytics"."driver_hourly_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."event_timestamp" >= (
      SELECT
        "min"
      FROM "featsql_bounds"
    ) - INTERVAL '86400' SECOND
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
      THEN "r"."acc_rate"
    END AS "acc_rate",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '86400' SECOND
      THEN "r"."avg_daily_trips"
    END AS "avg_daily_trips"
  FROM "featsql_0_keys" AS "k"
  ASOF LEFT JOIN "featsql_0_rows" AS "r"
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
    AND "k"."__featsql_order" >= "r"."__featsql_order"
), "featsql_1_keys" AS (
  SELECT
    *,
    {'t': "__featsql_ts", 'h': CAST(18446744073709551615 AS UBIGINT)} AS "__featsql_order"
  FROM (
    SELECT DISTINCT
      "e"."location_id" AS "__featsql_k0",
      CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS "__featsql_ts"
    FROM "featsql_entity" AS "e"
  ) AS "d"
), "featsql_1_rows" AS (
  SELECT
    "f"."location_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."avg_wait" AS "avg_wait",
    {'t': "f"."event_timestamp", 'h': HASH("f"."avg_wait")} AS "__featsql_order"
  FROM "analytics"."location_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."event_timestamp" >= (
      SELECT
        "min"
      FROM "featsql_bounds"
    ) - INTERVAL '43200' SECOND
    AND NOT "f"."location_id" IS NULL
), "featsql_1" AS (
  SELECT
    "k"."__featsql_k0",
    "k"."__featsql_ts",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '43200' SECOND
      THEN "r"."avg_wait"
    END AS "avg_wait"
  FROM "featsql_1_keys" AS "k"
  ASOF LEFT JOIN "featsql_1_rows" AS "r"
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
    AND "k"."__featsql_order" >= "r"."__featsql_order"
)
SELECT
  "e".*,
  "v0"."conv_rate" AS "driver_hourly_stats__conv_rate",
  "v0"."acc_rate" AS "driver_hourly_stats__acc_rate",
  "v0"."avg_daily_trips" AS "driver_hourly_stats__avg_daily_trips",
  "v1"."avg_wait" AS "location_stats__avg_wait"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) = "v0"."__featsql_ts"
LEFT JOIN "featsql_1" AS "v1"
  ON "e"."location_id" = "v1"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) = "v1"."__featsql_ts"
