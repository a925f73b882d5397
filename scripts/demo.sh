#!/usr/bin/env bash
# The README's demo, end to end: a feature repo from `featsql init` to registered features.
# Later steps (training set, materialization, online lookup) are appended below as they land.
#
# Usage: scripts/demo.sh [DIR]    (default DIR: a new temp dir; the repo is DIR/driver_ranking)
# Needs `featsql` and `dbt` on PATH: `make demo` runs this with .venv/bin first on PATH.
set -euo pipefail

# A developer's shell must not point the demo at another warehouse or profile.
unset FEATSQL_TARGET FEATSQL_DUCKDB_PATH DBT_PROFILES_DIR DBT_PROJECT_DIR DBT_TARGET DBT_PROFILE
export DBT_SEND_ANONYMOUS_USAGE_STATS="${DBT_SEND_ANONYMOUS_USAGE_STATS:-false}"

WORK="${1:-$(mktemp -d "${TMPDIR:-/tmp}/featsql-demo.XXXXXX")}"
mkdir -p "$WORK"
cd "$WORK"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() {
  printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
  "$@"
}

step featsql init driver_ranking
cd driver_ranking
step dbt seed
step dbt run
step featsql plan
step featsql apply
step featsql list feature-views
step featsql list entities
step featsql list feature-services

# --- Training sets -------------------------------------------------------------------------------
# Point-in-time correct: every label row gets the feature values known at its event_timestamp.
ENTITY_SQL="select * from {{ ref('driver_labels') }}"
step featsql compile --entity-sql "$ENTITY_SQL" --features driver_hourly_stats:conv_rate --dialect snowflake
step featsql training-set --entity-sql "$ENTITY_SQL" --feature-service driver_ranking_v1 \
  --full-feature-names --out data/training_set.parquet
step python -c "import pandas as pd; print(pd.read_parquet('data/training_set.parquet').head(8).to_string())"
step featsql training-set --entity-sql "$ENTITY_SQL" --feature-service driver_ranking_v1 \
  --full-feature-names --table main.driver_training_v1

# --- Materialization and online reads ------------------------------------------------------------
# The example rows are from January 2025: views with a ttl (1d, 12h) answer OUTSIDE_MAX_AGE
# (value NULL, event timestamp shown) when read today; featsql enforces ttl online, Feast does not.
step featsql materialize-incremental 2025-01-08T00:00:00
step featsql materialize 2025-01-01T00:00:00 2025-01-09T00:00:00 --views location_stats
step featsql get-online --features driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate \
  driver_id=1001 driver_id=1002 driver_id=9999
step featsql get-online --feature-service driver_ranking_v1 --full-feature-names \
  driver_id=1001,origin_id=1,destination_id=5

printf '\nDemo feature repo: %s\n' "$WORK/driver_ranking"
