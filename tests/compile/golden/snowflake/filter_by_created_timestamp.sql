-- featsql golden SQL: filter_by_created_timestamp (snowflake)
-- driver_ranking_v1 with filter_by_created_timestamp=True (range join: rows created after the entity time are invisible)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    *
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
    GREATEST("f"."EVENT_TIMESTAMP", "f"."CREATED") AS "__featsql_avail",
    LPAD(
      CAST(DATE_PART(EPOCH_MICROSECOND, "f"."EVENT_TIMESTAMP") + 10000000000000000 AS VARCHAR),
      17,
      '0'
    ) || LPAD(
      CAST(DATE_PART(EPOCH_MICROSECOND, "f"."CREATED") + 10000000000000000 AS VARCHAR),
      17,
      '0'
    ) AS "__featsql_rank"
  FROM "ANALYTICS"."DRIVER_HOURLY_STATS" AS "f"
  WHERE
    "f"."EVENT_TIMESTAMP" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."CREATED" <= (
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
), "featsql_0_union" AS (
  SELECT
    "__featsql_k0",
    "__featsql_avail",
    0 AS "__featsql_is_entity",
    "__featsql_rank"
  FROM "featsql_0_rows"
  UNION ALL
  SELECT
    "__featsql_k0",
    "__featsql_ts" AS "__featsql_avail",
    1 AS "__featsql_is_entity",
    NULL AS "__featsql_rank"
  FROM "featsql_0_keys"
), "featsql_0_best" AS (
  SELECT
    "__featsql_k0",
    "__featsql_avail" AS "__featsql_ts",
    "__featsql_is_entity",
    MAX("__featsql_rank") OVER (
      PARTITION BY "__featsql_k0"
      ORDER BY "__featsql_avail" NULLS FIRST, "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__featsql_best"
  FROM "featsql_0_union"
), "featsql_0_ranked" AS (
  SELECT
    "b"."__featsql_k0",
    "b"."__featsql_ts",
    "r"."__featsql_fts" AS "__featsql_matched",
    "r"."conv_rate" AS "conv_rate",
    "r"."acc_rate" AS "acc_rate",
    ROW_NUMBER() OVER (
      PARTITION BY "b"."__featsql_k0", "b"."__featsql_ts"
      ORDER BY "r"."conv_rate" DESC NULLS LAST, "r"."acc_rate" DESC NULLS LAST
    ) AS "__featsql_rn"
  FROM "featsql_0_best" AS "b"
  LEFT JOIN "featsql_0_rows" AS "r"
    ON "b"."__featsql_k0" = "r"."__featsql_k0"
    AND "b"."__featsql_best" = "r"."__featsql_rank"
  WHERE
    "b"."__featsql_is_entity" = 1
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
      THEN "c"."acc_rate"
    END AS "acc_rate"
  FROM "featsql_0_ranked" AS "c"
  WHERE
    "c"."__featsql_rn" = 1
), "featsql_1_keys" AS (
  SELECT DISTINCT
    "e"."ORIGIN_ID" AS "__featsql_k0",
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
), "featsql_2_keys" AS (
  SELECT DISTINCT
    "e"."DESTINATION_ID" AS "__featsql_k0",
    CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_2_rows" AS (
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
), "featsql_2" AS (
  SELECT
    "k"."__featsql_k0",
    "k"."__featsql_ts",
    CASE
      WHEN "r"."__featsql_fts" >= "k"."__featsql_ts" - INTERVAL '43200 SECOND'
      THEN "r"."avg_wait"
    END AS "avg_wait"
  FROM "featsql_2_keys" AS "k"
  ASOF JOIN "featsql_2_rows" AS "r" MATCH_CONDITION ("k"."__featsql_ts" >= "r"."__featsql_fts")
    ON "k"."__featsql_k0" = "r"."__featsql_k0"
)
SELECT
  "e".*,
  "v0"."conv_rate" AS "driver_hourly_stats__conv_rate",
  "v0"."acc_rate" AS "driver_hourly_stats__acc_rate",
  "v1"."avg_wait" AS "origin__avg_wait",
  "v2"."avg_wait" AS "destination__avg_wait"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."DRIVER_ID" = "v0"."__featsql_k0"
  AND CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) = "v0"."__featsql_ts"
LEFT JOIN "featsql_1" AS "v1"
  ON "e"."ORIGIN_ID" = "v1"."__featsql_k0"
  AND CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) = "v1"."__featsql_ts"
LEFT JOIN "featsql_2" AS "v2"
  ON "e"."DESTINATION_ID" = "v2"."__featsql_k0"
  AND CAST(CONVERT_TIMEZONE('UTC', CAST("e"."EVENT_TIMESTAMP" AS TIMESTAMPTZ)) AS TIMESTAMPNTZ) = "v2"."__featsql_ts"
