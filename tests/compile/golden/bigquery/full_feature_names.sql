-- featsql golden SQL: full_feature_names (bigquery)
-- view:* and a second view, full_feature_names=True, entity SQL that renames a column to the join key
-- Regenerate with: python -m tests.compile.regen_golden
WITH `featsql_entity` AS (
  SELECT
    driver_id,
    origin_id AS location_id,
    event_timestamp
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
    `f`.`acc_rate` AS `acc_rate`,
    `f`.`avg_daily_trips` AS `avg_daily_trips`
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
), `featsql_0_union` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_fts`,
    `__featsql_created` AS `__featsql_created`,
    0 AS `__featsql_is_entity`,
    `conv_rate`,
    `acc_rate`,
    `avg_daily_trips`
  FROM `featsql_0_rows`
  UNION ALL
  SELECT
    `__featsql_k0`,
    `__featsql_ts` AS `__featsql_fts`,
    NULL AS `__featsql_created`,
    1 AS `__featsql_is_entity`,
    NULL AS `conv_rate`,
    NULL AS `acc_rate`,
    NULL AS `avg_daily_trips`
  FROM `featsql_0_keys`
), `featsql_0_grp` AS (
  SELECT
    *,
    COUNT(CASE WHEN `__featsql_is_entity` = 0 THEN 1 END) OVER (
      PARTITION BY `__featsql_k0`
      ORDER BY `__featsql_fts`, `__featsql_is_entity`, `__featsql_created` ASC, `conv_rate` ASC, `acc_rate` ASC, `avg_daily_trips` ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__featsql_grp`
  FROM `featsql_0_union`
), `featsql_0_carried` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_fts` AS `__featsql_ts`,
    `__featsql_is_entity`,
    FIRST_VALUE(CASE WHEN `__featsql_is_entity` = 0 THEN `__featsql_fts` END) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `__featsql_matched`,
    FIRST_VALUE(`conv_rate`) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `conv_rate`,
    FIRST_VALUE(`acc_rate`) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `acc_rate`,
    FIRST_VALUE(`avg_daily_trips`) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `avg_daily_trips`
  FROM `featsql_0_grp`
), `featsql_0` AS (
  SELECT
    `c`.`__featsql_k0`,
    `c`.`__featsql_ts`,
    CASE
      WHEN `c`.`__featsql_matched` >= `c`.`__featsql_ts` - INTERVAL '86400' SECOND
      THEN `c`.`conv_rate`
    END AS `conv_rate`,
    CASE
      WHEN `c`.`__featsql_matched` >= `c`.`__featsql_ts` - INTERVAL '86400' SECOND
      THEN `c`.`acc_rate`
    END AS `acc_rate`,
    CASE
      WHEN `c`.`__featsql_matched` >= `c`.`__featsql_ts` - INTERVAL '86400' SECOND
      THEN `c`.`avg_daily_trips`
    END AS `avg_daily_trips`
  FROM `featsql_0_carried` AS `c`
  WHERE
    `c`.`__featsql_is_entity` = 1
), `featsql_1_keys` AS (
  SELECT DISTINCT
    `e`.`location_id` AS `__featsql_k0`,
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
), `featsql_1_union` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_fts`,
    NULL AS `__featsql_created`,
    0 AS `__featsql_is_entity`,
    `avg_wait`
  FROM `featsql_1_rows`
  UNION ALL
  SELECT
    `__featsql_k0`,
    `__featsql_ts` AS `__featsql_fts`,
    NULL AS `__featsql_created`,
    1 AS `__featsql_is_entity`,
    NULL AS `avg_wait`
  FROM `featsql_1_keys`
), `featsql_1_grp` AS (
  SELECT
    *,
    COUNT(CASE WHEN `__featsql_is_entity` = 0 THEN 1 END) OVER (
      PARTITION BY `__featsql_k0`
      ORDER BY `__featsql_fts`, `__featsql_is_entity`, `avg_wait` ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__featsql_grp`
  FROM `featsql_1_union`
), `featsql_1_carried` AS (
  SELECT
    `__featsql_k0`,
    `__featsql_fts` AS `__featsql_ts`,
    `__featsql_is_entity`,
    FIRST_VALUE(CASE WHEN `__featsql_is_entity` = 0 THEN `__featsql_fts` END) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `__featsql_matched`,
    FIRST_VALUE(`avg_wait`) OVER (
      PARTITION BY `__featsql_k0`, `__featsql_grp`
      ORDER BY `__featsql_is_entity` NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS `avg_wait`
  FROM `featsql_1_grp`
), `featsql_1` AS (
  SELECT
    `c`.`__featsql_k0`,
    `c`.`__featsql_ts`,
    CASE
      WHEN `c`.`__featsql_matched` >= `c`.`__featsql_ts` - INTERVAL '43200' SECOND
      THEN `c`.`avg_wait`
    END AS `avg_wait`
  FROM `featsql_1_carried` AS `c`
  WHERE
    `c`.`__featsql_is_entity` = 1
)
SELECT
  `e`.*,
  `v0`.`conv_rate` AS `driver_hourly_stats__conv_rate`,
  `v0`.`acc_rate` AS `driver_hourly_stats__acc_rate`,
  `v0`.`avg_daily_trips` AS `driver_hourly_stats__avg_daily_trips`,
  `v1`.`avg_wait` AS `location_stats__avg_wait`
FROM `featsql_entity` AS `e`
LEFT JOIN `featsql_0` AS `v0`
  ON `e`.`driver_id` = `v0`.`__featsql_k0`
  AND CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) = `v0`.`__featsql_ts`
LEFT JOIN `featsql_1` AS `v1`
  ON `e`.`location_id` = `v1`.`__featsql_k0`
  AND CAST(CAST(`e`.`event_timestamp` AS TIMESTAMP) AS DATETIME) = `v1`.`__featsql_ts`
