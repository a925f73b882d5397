-- featsql golden SQL: filter_by_created_timestamp (redshift)
-- driver_ranking_v1 with filter_by_created_timestamp=True (range join: rows created after the entity time are invisible)
-- Regenerate with: python -m tests.compile.regen_golden
WITH "featsql_entity" AS (
  SELECT
    *
  FROM "analytics"."driver_labels"
), "featsql_bounds" AS (
  SELECT
    MIN(CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP)) AS "min",
    MAX(CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP)) AS "max"
  FROM "featsql_entity" AS "e"
), "featsql_0_keys" AS (
  SELECT DISTINCT
    "e"."driver_id" AS "__featsql_k0",
    CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_0_rows" AS (
  SELECT
    "f"."driver_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."created" AS "__featsql_created",
    "f"."conv_rate" AS "conv_rate",
    "f"."acc_rate" AS "acc_rate",
    GREATEST("f"."event_timestamp", "f"."created") AS "__featsql_avail",
    LPAD(
      CAST(CAST(EXTRACT(EPOCH FROM "f"."event_timestamp") * 1000000 AS BIGINT) + 10000000000000000 AS VARCHAR),
      17,
      '0'
    ) || LPAD(
      CAST(CAST(EXTRACT(EPOCH FROM "f"."created") * 1000000 AS BIGINT) + 10000000000000000 AS VARCHAR),
      17,
      '0'
    ) AS "__featsql_rank"
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
    ) - INTERVAL '86400 SECOND'
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
    "e"."origin_id" AS "__featsql_k0",
    CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_1_rows" AS (
  SELECT
    "f"."location_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."avg_wait" AS "avg_wait"
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
    ) - INTERVAL '43200 SECOND'
    AND NOT "f"."location_id" IS NULL
), "featsql_1_union" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts",
    NULL AS "__featsql_created",
    0 AS "__featsql_is_entity",
    "avg_wait"
  FROM "featsql_1_rows"
  UNION ALL
  SELECT
    "__featsql_k0",
    "__featsql_ts" AS "__featsql_fts",
    NULL AS "__featsql_created",
    1 AS "__featsql_is_entity",
    NULL AS "avg_wait"
  FROM "featsql_1_keys"
), "featsql_1_grp" AS (
  SELECT
    *,
    COUNT(CASE WHEN "__featsql_is_entity" = 0 THEN 1 END) OVER (
      PARTITION BY "__featsql_k0"
      ORDER BY "__featsql_fts" NULLS FIRST, "__featsql_is_entity" NULLS FIRST, "avg_wait" ASC NULLS FIRST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__featsql_grp"
  FROM "featsql_1_union"
), "featsql_1_carried" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts" AS "__featsql_ts",
    "__featsql_is_entity",
    FIRST_VALUE(CASE WHEN "__featsql_is_entity" = 0 THEN "__featsql_fts" END) OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "__featsql_matched",
    FIRST_VALUE("avg_wait") OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "avg_wait"
  FROM "featsql_1_grp"
), "featsql_1" AS (
  SELECT
    "c"."__featsql_k0",
    "c"."__featsql_ts",
    CASE
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '43200 SECOND'
      THEN "c"."avg_wait"
    END AS "avg_wait"
  FROM "featsql_1_carried" AS "c"
  WHERE
    "c"."__featsql_is_entity" = 1
), "featsql_2_keys" AS (
  SELECT DISTINCT
    "e"."destination_id" AS "__featsql_k0",
    CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) AS "__featsql_ts"
  FROM "featsql_entity" AS "e"
), "featsql_2_rows" AS (
  SELECT
    "f"."location_id" AS "__featsql_k0",
    "f"."event_timestamp" AS "__featsql_fts",
    "f"."avg_wait" AS "avg_wait"
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
    ) - INTERVAL '43200 SECOND'
    AND NOT "f"."location_id" IS NULL
), "featsql_2_union" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts",
    NULL AS "__featsql_created",
    0 AS "__featsql_is_entity",
    "avg_wait"
  FROM "featsql_2_rows"
  UNION ALL
  SELECT
    "__featsql_k0",
    "__featsql_ts" AS "__featsql_fts",
    NULL AS "__featsql_created",
    1 AS "__featsql_is_entity",
    NULL AS "avg_wait"
  FROM "featsql_2_keys"
), "featsql_2_grp" AS (
  SELECT
    *,
    COUNT(CASE WHEN "__featsql_is_entity" = 0 THEN 1 END) OVER (
      PARTITION BY "__featsql_k0"
      ORDER BY "__featsql_fts" NULLS FIRST, "__featsql_is_entity" NULLS FIRST, "avg_wait" ASC NULLS FIRST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__featsql_grp"
  FROM "featsql_2_union"
), "featsql_2_carried" AS (
  SELECT
    "__featsql_k0",
    "__featsql_fts" AS "__featsql_ts",
    "__featsql_is_entity",
    FIRST_VALUE(CASE WHEN "__featsql_is_entity" = 0 THEN "__featsql_fts" END) OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "__featsql_matched",
    FIRST_VALUE("avg_wait") OVER (
      PARTITION BY "__featsql_k0", "__featsql_grp"
      ORDER BY "__featsql_is_entity"
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "avg_wait"
  FROM "featsql_2_grp"
), "featsql_2" AS (
  SELECT
    "c"."__featsql_k0",
    "c"."__featsql_ts",
    CASE
      WHEN "c"."__featsql_matched" >= "c"."__featsql_ts" - INTERVAL '43200 SECOND'
      THEN "c"."avg_wait"
    END AS "avg_wait"
  FROM "featsql_2_carried" AS "c"
  WHERE
    "c"."__featsql_is_entity" = 1
)
SELECT
  "e".*,
  "v0"."conv_rate" AS "driver_hourly_stats__conv_rate",
  "v0"."acc_rate" AS "driver_hourly_stats__acc_rate",
  "v1"."avg_wait" AS "origin__avg_wait",
  "v2"."avg_wait" AS "destination__avg_wait"
FROM "featsql_entity" AS "e"
LEFT JOIN "featsql_0" AS "v0"
  ON "e"."driver_id" = "v0"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) = "v0"."__featsql_ts"
LEFT JOIN "featsql_1" AS "v1"
  ON "e"."origin_id" = "v1"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) = "v1"."__featsql_ts"
LEFT JOIN "featsql_2" AS "v2"
  ON "e"."destination_id" = "v2"."__featsql_k0"
  AND CAST(CAST("e"."event_timestamp" AS TIMESTAMP WITH TIME ZONE) AS TIMESTAMP) = "v2"."__featsql_ts"
