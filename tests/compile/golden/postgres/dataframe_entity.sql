-- featsql golden SQL: dataframe_entity (postgres)
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
    "f"."driver_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."created" AS "__featsql_created",
    "f"."conv_rate" AS "conv_rate",
    "f"."avg_daily_trips" AS "avg_daily_trips"
  FROM "analytics"."driver_hourly_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= CAST('2025-01-08 23:12:00' AS TIMESTAMP)
    AND "f"."event_timestamp" >= CAST('2025-01-01 02:29:00' AS TIMESTAMP) - INTERVAL '86400 SECOND'
    AND NOT "f"."driver_id" IS NULL
), "featsql_0_union" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts",
    "__featsql_created" AS "__featsql_created",
    0 AS "__featsql_is_entity",
    "conv_rate",
    "avg_daily_trips"
  FROM "featsql_0_rows"
  UNION ALL
  SELECT
    "__featsql_k0",
    "__featsql_ts" AS "__featsql_fts",
    NULL AS "__featsql_created",
    1 AS "__featsql_is_entity",
    NULL AS "conv_rate",
    NULL AS "avg_daily_trips"
  FROM "featsql_0_keys"
), "featsql_0_grp" AS (
  SELECT
    *,
    COUNT(CASE WHEN "__featsql_is_entity" = 0 THEN 1 END) OVER (
      PARTITION BY "__featsql_k0"
      ORDER BY "__featsql_fts" NULLS FIRST, "__featsql_is_entity" NULLS FIRST, "__featsql_created" ASC NULLS FIRST, "conv_rate" ASC NULLS FIRST, "avg_daily_trips" ASC NULLS FIRST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__featsql_grp"
  FROM "featsql_0_union"
), "featsql_0_carried" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts" AS "__featsql_ts",
    "__featsql_is_entity",
    FIRST_VALUE(CASE WHEN "__featsql_is_entity" = 0 THEN "__featsql_fts" END) OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "__featsql_matched",
    FIRST_VALUE("conv_rate") OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "conv_rate",
    FIRST_VALUE("avg_daily_trips") OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "avg_daily_trips"
  FROM "featsql_0_grp"
), "featsql_0" AS (
  SELECT
    "c"."__featsql_k0",
    "c"."__featsql_ts",
    CASE
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '86400 SECOND'
      THEN "c"."conv_rate"
    END AS "conv_rate",
    CASE
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '86400 SECOND'
      THEN "c"."avg_daily_trips"
    END AS "avg_daily_trips"
  FROM "featsql_0_carried" AS "c"
  WHERE
    "c"."__featsql_is_entity" = 1
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
