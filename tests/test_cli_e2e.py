"""End to end through the real `featsql` and `dbt` console scripts, as a user runs them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support import edit_schema, featsql, online_tables, view_meta

pytestmark = pytest.mark.slow  # real subprocesses: dbt's import alone is ~2 s per command

VIEWS = ["driver_hourly_stats", "location_stats"]
TABLES = {f"driver_ranking__{v}" for v in VIEWS}


def ok(result) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def test_init_seed_run_plan_apply_list_change_teardown(build_log, repo: Path) -> None:
    # init -> dbt seed -> dbt run ran through the real CLIs in a temp dir (the session fixture);
    # `repo` is a copy of that directory.
    assert "Created feature repo driver_ranking/" in ok(build_log["init"])
    assert "Completed successfully" in ok(build_log["seed"])
    assert "Completed successfully" in ok(build_log["run"])
    registry, online = repo / "data" / "registry.json", repo / "data" / "online.db"

    out = ok(featsql("plan", cwd=repo))
    for line in ["+ entity driver: added", "+ entity location: added",
                 "+ feature view driver_hourly_stats: added", "+ feature view location_stats: added",
                 "+ feature service driver_ranking_v1: added", "Plan: 5 added, 0 changed, 0 removed."]:
        assert line in out.splitlines()
    assert not registry.exists(), "plan must not write the registry"
    assert online_tables(online) == set()

    out = ok(featsql("apply", cwd=repo))
    assert f"Applied: 5 added, 0 changed, 0 removed (registry {registry})." in out
    assert online_tables(online) == TABLES

    views = json.loads(ok(featsql("list", "feature-views", "--json", cwd=repo)))
    assert [v["name"] for v in views] == VIEWS
    driver = views[0]
    assert [e["join_key"] for e in driver["entities"]] == ["driver_id"]
    assert driver["timestamp_field"] == "event_timestamp"
    assert driver["created_timestamp_field"] == "created"
    assert driver["ttl_seconds"] == 86400
    # types come from the built relation in DuckDB
    assert [(f["name"], f["dtype"], f["warehouse_type"]) for f in driver["features"]] == [
        ("conv_rate", "float", "DOUBLE"), ("acc_rate", "float", "DOUBLE"),
        ("avg_daily_trips", "int", "INTEGER")]
    assert driver["features"][0]["description"] == "conversion rate in the last hour"
    assert views[1]["ttl_seconds"] == 43200 and [f["name"] for f in views[1]["features"]] == ["avg_wait"]

    entities = json.loads(ok(featsql("list", "entities", "--json", cwd=repo)))
    assert {(e["name"], e["join_key"]) for e in entities} == {("driver", "driver_id"),
                                                               ("location", "location_id")}
    services = json.loads(ok(featsql("list", "feature-services", "--json", cwd=repo)))
    assert [s["name"] for s in services] == ["driver_ranking_v1"]
    projections = services[0]["projections"]
    assert [(p["view"], p["alias"], p["join_key_map"], p["features"]) for p in projections] == [
        ("driver_hourly_stats", None, {}, ["conv_rate", "acc_rate"]),
        ("location_stats", "origin", {"location_id": "origin_id"}, ["avg_wait"]),
        ("location_stats", "destination", {"location_id": "destination_id"}, ["avg_wait"]),
    ]
    table = ok(featsql("list", "feature-views", cwd=repo)).splitlines()
    assert table[0].split() == ["NAME", "ENTITIES", "FEATURES", "TTL", "ONLINE", "RELATION"]
    assert table[1].split()[:5] == ["driver_hourly_stats", "driver_id",
                                    "conv_rate,acc_rate,avg_daily_trips", "1d", "yes"]
    assert "No changes." in ok(featsql("plan", cwd=repo))

    # change a model's meta: plan (which re-runs `dbt parse`, the manifest being stale) shows it
    def change(doc: dict) -> None:
        meta = view_meta(doc, "driver_hourly_stats")
        meta["ttl"] = "2d"
        meta["features"] = ["conv_rate", "acc_rate"]
    edit_schema(repo, change)
    before = registry.read_bytes()
    out = ok(featsql("plan", cwd=repo))
    assert ("~ feature view driver_hourly_stats: changed (features -avg_daily_trips, ttl_seconds);"
            " online table rebuilt, incremental restarts from the oldest row") \
        in out.splitlines()
    assert "Plan: 0 added, 1 changed, 0 removed." in out
    assert registry.read_bytes() == before, "plan must not write the registry"

    out = ok(featsql("apply", cwd=repo))
    assert "Applied: 0 added, 1 changed, 0 removed" in out
    doc = json.loads(registry.read_text())
    assert doc["feature_views"]["driver_hourly_stats"]["version"] == 2
    assert doc["feature_views"]["location_stats"]["version"] == 1
    views = json.loads(ok(featsql("list", "feature-views", "--json", cwd=repo)))
    assert views[0]["ttl_seconds"] == 172800
    assert [f["name"] for f in views[0]["features"]] == ["conv_rate", "acc_rate"]

    out = ok(featsql("teardown", cwd=repo))
    assert out.splitlines() == [*(f"removed online table {t}" for t in sorted(TABLES)),
                                f"removed registry {registry}"]
    assert not registry.exists()
    assert online_tables(online) == set()
    assert json.loads(ok(featsql("list", "feature-views", "--json", cwd=repo))) == []
    assert ok(featsql("teardown", cwd=repo)).splitlines() == ["no registry to remove"]


def test_f_selects_another_config(repo: Path) -> None:
    """`featsql -f staging/featsql.yml` uses that file: its project, registry and online store,
    with paths relative to it, and the dbt target it names."""
    profiles = yaml.safe_load((repo / "profiles.yml").read_text())
    outputs = profiles["driver_ranking"]["outputs"]
    outputs["staging"] = dict(outputs["dev"], threads=1)
    (repo / "profiles.yml").write_text(yaml.safe_dump(profiles))
    staging = repo / "staging"
    staging.mkdir()
    (staging / "featsql.yml").write_text(
        "project: driver_ranking_staging\n"
        "dbt: {project_dir: .., profiles_dir: .., target: staging}\n"
        "registry: state/registry.json\n"
        "online_store: {type: sqlite, path: state/online.db}\n"
    )
    out = ok(featsql("-f", "staging/featsql.yml", "apply", cwd=repo))
    assert "Applied: 5 added" in out
    doc = json.loads((staging / "state" / "registry.json").read_text())
    assert doc["project"] == "driver_ranking_staging"
    assert online_tables(staging / "state" / "online.db") == {
        f"driver_ranking_staging__{v}" for v in VIEWS}
    assert not (repo / "data" / "registry.json").exists()
    assert not (repo / "data" / "online.db").exists()

    listed = json.loads(ok(featsql("--config", "staging/featsql.yml", "list", "feature-views",
                                   "--json", cwd=repo)))
    assert [v["name"] for v in listed] == VIEWS
    # the default featsql.yml is a different environment: nothing applied there
    assert json.loads(ok(featsql("list", "feature-views", "--json", cwd=repo))) == []

    out = ok(featsql("-f", str(staging / "featsql.yml"), "teardown", cwd=repo))
    assert "removed online table driver_ranking_staging__driver_hourly_stats" in out
    assert not (staging / "state" / "registry.json").exists()


def test_bad_declaration_exits_nonzero_with_one_message_and_no_traceback(applied_repo: Path) -> None:
    registry = applied_repo / "data" / "registry.json"
    before = registry.read_bytes()
    edit_schema(applied_repo, lambda doc: view_meta(doc, "driver_hourly_stats").update(ttl="1 day"))
    result = featsql("apply", cwd=applied_repo)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [
        "error: 1 invalid declaration; nothing was written",
        "  - models/schema.yml: model 'driver_hourly_stats': featsql.ttl: expected a duration"
        " like 30s, 15m, 1h, 1d, 2w or P1D, got '1 day'",
    ]
    assert registry.read_bytes() == before


def test_errors_are_one_line_unless_debug(tmp_path: Path) -> None:
    result = featsql("-f", "missing.yml", "plan", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: missing.yml: no such file (featsql.yml sits beside dbt_project.yml)"]
    debug = featsql("--debug", "-f", "missing.yml", "plan", cwd=tmp_path)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "FeatsqlError" in debug.stderr


def test_help_lists_the_commands_and_starts_without_heavy_imports(tmp_path: Path) -> None:
    out = ok(featsql("--help", cwd=tmp_path))
    for command in ["init", "plan", "apply", "teardown", "list"]:
        assert f"  {command} " in out
    import sys

    from tests.support import run

    probe = ("import sys, featsql.cli; "
             "print(sorted(m for m in ('dbt', 'duckdb', 'pandas', 'pyarrow', 'sqlglot', 'pydantic')"
             " if m in sys.modules))")
    assert ok(run([sys.executable, "-c", probe], cwd=tmp_path)).strip() == "[]"
