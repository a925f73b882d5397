-- featsql golden SQL: filter_by_created_timestamp (bigquery)
-- driver_ranking_v1 with filter_by_created_timestamp=True (range join: rows created after the entity time are invisible)
-- Regenerate with: python -m tests.compile.regen_golden
WITH `featsql_entity` AS (
  SELECT
    *
  FROM `analytics`.`driver_labels`
), `featsql_bounds` AS (
  SELECT
    MIN(CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME)) AS `min`,
    MAX(CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME)) AS `max`
  FROM `featsql_entity` AS `e`
), `featsql_0_keys` AS (
  SELECT DISTINCT
    `e`.`driver_id` AS `__featsql_k0`,
    CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) AS `__featsql_ts`
  FROM `featsql_entity` AS `e`
), `featsql_0_rows` AS (
  SELECT
    `f`.`driver_id` AS `__featsql_k0`,
    `f`.`event_timestamp` AS `__featsql_fts`,
    `f`.`created` AS `__featsql_created`,
    `f`.`conv_rate` AS `conv_rate`,
    `f`.`acc_rate` AS `acc_rate`
  FROM `analytics`.`driver_hourly_stats` AS `f`
  WHERE
    `f`.`event_timestamp` <= (
      SELECT
        `max`
      FROM `featsql_bounds`
    )
    AND `f`.`event_timestamp` >= (
      SELECT
        `min`
      FROM `featsql_bounds`
    ) - INTERVAL '86400' SECOND
    AND NOT `f`.`driver_id` IS NULL
), `featsql_0_ranked` AS (
  SELECT
    `k`.`__featsql_k0`,
    `k`.`__featsql_ts`,
    `r`.`conv_rate` AS `conv_rate`,
    `r`.`acc_rate` AS `acc_rate`,
    ROW_NUMBER() OVER (
      PARTITION BY `k`.`__featsql_k0`, `k`.`__featsql_ts`
      ORDER BY `r`.`__featsql_fts` DESC, `r`.`__featsql_created` DESC, `r`.`conv_rate` DESC, `r`.`acc_rate` DESC
    ) AS `__featsql_rn`
  FROM `featsql_0_keys` AS `k`
  LEFT JOIN `featsql_0_rows` AS `r`
    ON `k`.`__featsql_k0` = `r`.`__featsql_k0`
    AND `r`.`__featsql_fts` <= `k`.`__featsql_ts`
    AND `r`.`__featsql_created` <= `k`.`__featsql_ts`
    AND `r`.`__featsql_fts` >= `k`.`__featsql_ts` - INTERVAL '86400' SECOND
), `featsql_0` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_ts`,
    `conv_rate`,
    `acc_rate`
  FROM `featsql_0_ranked`
  WHERE
    `__featsql_rn` = 1
), `featsql_1_keys` AS (
  SELECT DISTINCT
    `e`.`origin_id` AS `__featsql_k0`,
    CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) AS `__featsql_ts`
  FROM `featsql_entity` AS `e`
), `featsql_1_rows` AS (
  SELECT
    `f`.`location_id` AS `__featsql_k0`,
    `f`.`event_timestamp` AS `__featsql_fts`,
    `f`.`avg_wait` AS `avg_wait`
  FROM `analytics`.`location_stats` AS `f`
  WHERE
    `f`.`event_timestamp` <= (
      SELECT
        `max`
      FROM `featsql_bounds`
    )
    AND `f`.`event_timestamp` >= (
      SELECT
        `min`
      FROM `featsql_bounds`
    ) - INTERVAL '43200' SECOND
    AND NOT `f`.`location_id` IS NULL
), `featsql_1_ranked` AS (
  SELECT
    `k`.`__featsql_k0`,
    `k`.`__featsql_ts`,
    `r`.`avg_wait` AS `avg_wait`,
    ROW_NUMBER() OVER (
      PARTITION BY `k`.`__featsql_k0`, `k`.`__featsql_ts`
      ORDER BY `r`.`__featsql_fts` DESC, `r`.`avg_wait` DESC
    ) AS `__featsql_rn`
  FROM `featsql_1_keys` AS `k`
  LEFT JOIN `featsql_1_rows` AS `r`
    ON `k`.`__featsql_k0` = `r`.`__featsql_k0`
    AND `r`.`__featsql_fts` <= `k`.`__featsql_ts`
    AND `r`.`__featsql_fts` >= `k`.`__featsql_ts` - INTERVAL '43200' SECOND
), `featsql_1` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_ts`,
    `avg_wait`
  FROM `featsql_1_ranked`
  WHERE
    `__featsql_rn` = 1
), `featsql_2_keys` AS (
  SELECT DISTINCT
    `e`.`destination_id` AS `__featsql_k0`,
    CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) AS `__featsql_ts`
  FROM `featsql_entity` AS `e`
), `featsql_2_rows` AS (
  SELECT
    `f`.`location_id` AS `__featsql_k0`,
    `f`.`event_timestamp` AS `__featsql_fts`,
    `f`.`avg_wait` AS `avg_wait`
  FROM `analytics`.`location_stats` AS `f`
  WHERE
    `f`.`event_timestamp` <= (
      SELECT
        `max`
      FROM `featsql_bounds`
    )
    AND `f`.`event_timestamp` >= (
      SELECT
        `min`
      FROM `featsql_bounds`
    ) - INTERVAL '43200' SECOND
    AND NOT `f`.`location_id` IS NULL
), `featsql_2_ranked` AS (
  SELECT
    `k`.`__featsql_k0`,
    `k`.`__featsql_ts`,
    `r`.`avg_wait` AS `avg_wait`,
    ROW_NUMBER() OVER (
      PARTITION BY `k`.`__featsql_k0`, `k`.`__featsql_ts`
      ORDER BY `r`.`__featsql_fts` DESC, `r`.`avg_wait` DESC
    ) AS `__featsql_rn`
  FROM `featsql_2_keys` AS `k`
  LEFT JOIN `featsql_2_rows` AS `r`
    ON `k`.`__featsql_k0` = `r`.`__featsql_k0`
    AND `r`.`__featsql_fts` <= `k`.`__featsql_ts`
    AND `r`.`__featsql_fts` >= `k`.`__featsql_ts` - INTERVAL '43200' SECOND
), `featsql_2` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_ts`,
    `avg_wait`
  FROM `featsql_2_ranked`
  WHERE
    `__featsql_rn` = 1
)
SELECT
  `e`.*,
  `v0`.`conv_rate` AS `driver_hourly_stats__conv_rate`,
  `v0`.`acc_rate` AS `driver_hourly_stats__acc_rate`,
  `v1`.`avg_wait` AS `origin__avg_wait`,
  `v2`.`avg_wait` AS `destination__avg_wait`
FROM `featsql_entity` AS `e`
LEFT JOIN `featsql_0` AS `v0`
  ON `e`.`driver_id` = `v0`.`__featsql_k0`
  AND CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) = `v0`.`__featsql_ts`
LEFT JOIN `featsql_1` AS `v1`
  ON `e`.`origin_id` = `v1`.`__featsql_k0`
  AND CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) = `v1`.`__featsql_ts`
LEFT JOIN `featsql_2` AS `v2`
  ON `e`.`destination_id` = `v2`.`__featsql_k0`
  AND CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) = `v2`.`__featsql_ts`
