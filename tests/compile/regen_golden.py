"""Golden compiled SQL: the cases, how each is compiled, and the command that rewrites them.

    python -m tests.compile.regen_golden          # rewrite tests/compile/golden/<dialect>/<case>.sql
    python -m tests.compile.regen_golden --check  # exit 1 and list what differs (CI-style)

Definitions come from models_example/models/schema.yml through featsql's own declaration code,
with column types a warehouse of each dialect would report (tests/engines.py), so no warehouse
and no dbt run is needed. Relations live in schema `analytics`.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featsql.definitions import Relation

GOLDEN = Path(__file__).resolve().parent / "golden"
DIALECTS = ("duckdb", "postgres", "redshift", "snowflake", "bigquery")
REGEN = "python -m tests.compile.regen_golden"
# Uploaded DataFrames get a random table name; goldens show it as this placeholder.
UPLOAD_NAME = re.compile(r"featsql_entity_[0-9a-f]{12}")
UPLOAD_PLACEHOLDER = "featsql_entity_<upload>"
SCHEMA = "analytics"


@dataclass(frozen=True)
class Case:
    name: str
    doc: str
    features: Any  # a feature service name or a list of "view:feature" references
    entity: str  # "dataframe" (the example labels, uploaded) or entity SQL
    options: dict[str, Any] = field(default_factory=dict)


LABELS_SQL = "select * from {{ ref('driver_labels') }}"
CASES = (
    Case("driver_ranking_v1", "feature service driver_ranking_v1 (aliased origin/destination views), "
         "SQL entity set run in place", "driver_ranking_v1", LABELS_SQL,
         {"full_feature_names": True}),
    Case("dataframe_entity", "the labels as an uploaded DataFrame (bounds known as constants)",
         ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"], "dataframe"),
    Case("filter_by_created_timestamp", "driver_ranking_v1 with filter_by_created_timestamp=True "
         "(range join: rows created after the entity time are invisible)", "driver_ranking_v1",
         LABELS_SQL, {"full_feature_names": True, "filter_by_created_timestamp": True}),
    Case("full_feature_names", "view:* and a second view, full_feature_names=True, entity SQL that "
         "renames a column to the join key",
         ["driver_hourly_stats:*", "location_stats:avg_wait"],
         "select driver_id, origin_id as location_id, event_timestamp from {{ ref('driver_labels') }}",
         {"full_feature_names": True}),
)


def relation(name: str) -> Relation:
    return Relation(schema_name=SCHEMA, identifier=name)


def compile_case(dialect: str, case: Case, compiler: Any = None) -> str:
    """The SQL `featsql compile` prints for this case, upload name made stable, with a header
    (`compiler`: a warehouse to compile for in place of the dialect's own)."""
    from tests.engines import label_entities, manifest_for, offline_definitions, plan

    defs = offline_definitions(dialect, schema=SCHEMA)
    entity = label_entities() if case.entity == "dataframe" else case.entity
    job = plan(compiler or dialect, defs, case.features, entity,
               manifest=manifest_for(dialect, relation), **case.options)
    sql = UPLOAD_NAME.sub(UPLOAD_PLACEHOLDER, job.to_sql())
    header = (f"-- featsql golden SQL: {case.name} ({dialect})\n-- {case.doc}\n"
              f"-- Regenerate with: {REGEN}\n")
    return header + sql + "\n"


def golden_path(dialect: str, case: Case) -> Path:
    return GOLDEN / dialect / f"{case.name}.sql"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for dialect in DIALECTS:
        for case in CASES:
            path = golden_path(dialect, case)
            text = compile_case(dialect, case)
            if path.is_file() and path.read_text() == text:
                continue
            changed.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    root = Path.cwd()
    for path in changed:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        print(("differs: " if check else "wrote: ") + str(shown))
    if not changed:
        print("golden SQL is up to date")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
