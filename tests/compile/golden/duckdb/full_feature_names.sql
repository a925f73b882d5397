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
), "featsql_0_rows" AS (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
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
), "featsql_1_rows" AS (
  SELECT
    "f"."location_id" AS "__featsql_k0",
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
)
SELECT
  "e".*,
  CASE
    WHEN "v0"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '86400' SECOND
    THEN "v0"."conv_rate"
  END AS "driver_hourly_stats__conv_rate",
  CASE
    WHEN "v0"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '86400' SECOND
    THEN "v0"."acc_rate"
  END AS "driver_hourly_stats__acc_rate",
  CASE
    WHEN "v0"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '86400' SECOND
    THEN "v0"."avg_daily_trips"
  END AS "driver_hourly_stats__avg_daily_trips",
  CASE
    WHEN "v1"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '43200' SECOND
    THEN "v1"."avg_wait"
  END AS "location_stats__avg_wait"
FROM "featsql_entity" AS "e"
ASOF LEFT JOIN "featsql_0_rows" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND CASE
    WHEN NOT CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) IS NULL
    THEN {'t': CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP), 'c': CAST('infinity' AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)}
  END >= "v0"."__featsql_order"
ASOF LEFT JOIN "featsql_1_rows" AS "v1"
  ON "e"."location_id" = "v1"."__featsql_k0"
  AND CASE
    WHEN NOT CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) IS NULL
    THEN {'t': CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)}
  END >= "v1"."__featsql_order"
