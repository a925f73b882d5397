-- featsql golden SQL: filter_by_created_timestamp (duckdb)
-- driver_ranking_v1 with filter_by_created_timestamp=True (range join: rows created after the entity time are invisible)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS MATERIALIZED (
  SELECT
    *
  FROM "analytics"."driver_labels"
), "featsql_bounds" AS (
  SELECT
    MIN(CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP)) AS "min",
    MAX(CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP)) AS "max"
  FROM "featsql_entity" AS "e"
), "featsql_0_keys" AS (
  SELECT DISTINCT
    "e"."driver_id" AS "__featsql_k0",
    CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_0_rows" AS MATERIALIZED (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."created" AS "__featsql_created",
    "f"."conv_rate" AS "conv_rate",
    "f"."acc_rate" AS "acc_rate",
    CASE
      WHEN "f"."event_timestamp" IS NULL OR "f"."created" IS NULL
      THEN NULL
      ELSE GREATEST("f"."event_timestamp", "f"."created")
    END AS "__featsql_avail",
    LPAD(CAST(EPOCH_US("f"."event_timestamp") + 10000000000000000 AS TEXT), 17, '0') || LPAD(CAST(EPOCH_US("f"."created") + 10000000000000000 AS TEXT), 17, '0') AS "__featsql_rank"
  FROM "analytics"."driver_hourly_stats" AS "f"
  WHERE
    "f"."event_timestamp" <= (
      SELECT
        "max"
      FROM "featsql_bounds"
    )
    AND "f"."created" <= (
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
      ORDER BY "r"."conv_rate" DESC, "r"."acc_rate" DESC
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
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '86400' SECOND
      THEN "c"."conv_rate"
    END AS "conv_rate",
    CASE
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '86400' SECOND
      THEN "c"."acc_rate"
    END AS "acc_rate"
  FROM "featsql_0_ranked" AS "c"
  WHERE
    "c"."__featsql_rn" = 1
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
), "featsql_2_rows" AS (
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
  "v0"."conv_rate" AS "driver_hourly_stats__conv_rate",
  "v0"."acc_rate" AS "driver_hourly_stats__acc_rate",
  CASE
    WHEN "v1"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '43200' SECOND
    THEN "v1"."avg_wait"
  END AS "origin__avg_wait",
  CASE
    WHEN "v2"."__featsql_order"."t" >= CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) - INTERVAL '43200' SECOND
    THEN "v2"."avg_wait"
  END AS "destination__avg_wait"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) = "v0"."__featsql_ts"
ASOF LEFT JOIN "featsql_1_rows" AS "v1"
  ON "e"."origin_id" = "v1"."__featsql_k0"
  AND CASE
    WHEN NOT CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) IS NULL
    THEN {'t': CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)}
  END >= "v1"."__featsql_order"
ASOF LEFT JOIN "featsql_2_rows" AS "v2"
  ON "e"."destination_id" = "v2"."__featsql_k0"
  AND CASE
    WHEN NOT CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) IS NULL
    THEN {'t': CAST(CAST("e"."event_timestamp" AS TIMESTAMPTZ) AS TIMESTAMP), 'h': CAST(18446744073709551615 AS UBIGINT)}
  END >= "v2"."__featsql_order"
