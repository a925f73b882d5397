"""The manifest reader against manifests the installed dbt-core writes (`dbt parse` runs here),
every place dbt may put `meta`, and the staleness rule behind `featsql apply`'s auto-parse."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from featsql import manifest
from featsql.config import load_config
from featsql.errors import FeatsqlError
from tests.support import copy_repo

ROW = "select 1 as driver_id, current_timestamp as event_timestamp, 1.0 as x"
FILES = {
    "dbt_project.yml": """\
        name: metas
        version: "1.0.0"
        config-version: 2
        profile: metas
        models:
          metas:
            from_project:
              +meta: {featsql: {entities: [driver_id], ttl: 2h}}
        """,
    "profiles.yml": """\
        metas:
          target: dev
          outputs:
            dev: {type: duckdb, path: data/metas.duckdb}
        """,
    "featsql.yml": "project: metas\ndbt: {profiles_dir: ., target: dev}\n",
    # config: meta: (dbt >= 1.10 style)
    "models/in_config.sql": ROW,
    # top-level meta: (older style, still accepted by dbt with a deprecation)
    "models/top_level.sql": ROW,
    # {{ config(meta=...) }} in the SQL file, no YAML at all
    "models/in_sql.sql": "{{ config(meta={'featsql': {'entities': ['driver_id']}}) }}\n" + ROW,
    # +meta from dbt_project.yml, on a model in a sub-folder
    "models/from_project/project_meta.sql": ROW,
    # an alias: the relation is the alias, the view keeps the model's name
    "models/aliased.sql": "{{ config(alias='aliased_table') }}\n" + ROW,
    "models/plain.sql": ROW,
    "models/schema.yml": """\
        version: 2
        models:
          - name: in_config
            description: config placement
            config:
              meta:
                featsql: {entities: [driver_id], ttl: 1d}
            columns:
              - name: x
                description: the x feature
          - name: top_level
            meta:
              featsql: {entities: [driver_id]}
          - name: aliased
            config:
              meta: {featsql: {entities: [driver_id]}}
          - name: plain
            config:
              meta: {owner: someone}
        exposures:
          - name: svc_config
            type: ml
            description: scores
            owner: {name: Ranking team}
            depends_on: [ref('in_config')]
            config:
              meta:
                featsql: {features: ["in_config:x"]}
          - name: svc_top_level
            type: ml
            owner: {email: ml@example.com}
            meta:
              featsql: {features: ["top_level:x"]}
          - name: dashboard_not_a_service
            type: dashboard
            owner: {name: BI}
            config:
              meta:
                featsql: {features: ["in_config:x"]}
        """,
}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small dbt project covering every meta placement, parsed once by the installed dbt-core
    through featsql's own `dbt parse` call."""
    root = tmp_path_factory.mktemp("metas")
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "data").mkdir()
    config = load_config(root)
    assert manifest.is_stale(root)
    doc = manifest.load_manifest(config)  # runs `dbt parse`
    assert not manifest.is_stale(root)
    return root, doc


def test_every_meta_placement_is_read(parsed: tuple[Path, dict]) -> None:
    views = {d.name: d for d in manifest.feature_views(parsed[1])}
    assert sorted(views) == ["aliased", "in_config", "in_sql", "project_meta", "top_level"]
    assert views["in_config"].meta == {"entities": ["driver_id"], "ttl": "1d"}
    assert views["top_level"].meta == {"entities": ["driver_id"]}
    assert views["in_sql"].meta == {"entities": ["driver_id"]}
    assert views["project_meta"].meta == {"entities": ["driver_id"], "ttl": "2h"}


def test_where_each_view_is_declared(parsed: tuple[Path, dict]) -> None:
    views = {d.name: d for d in manifest.feature_views(parsed[1])}
    assert views["in_config"].yaml_file == "models/schema.yml"
    assert views["top_level"].yaml_file == "models/schema.yml"
    # no YAML entry: the SQL file that declares it
    assert views["in_sql"].yaml_file == "models/in_sql.sql"
    assert views["in_config"].unique_id == "model.metas.in_config"
    assert views["in_config"].description == "config placement"
    assert views["in_config"].column_docs == {"x": "the x feature"}
    assert views["in_config"].relation == ("metas", "main", "in_config")
    assert views["aliased"].relation == ("metas", "main", "aliased_table")


def test_ml_exposures_are_services(parsed: tuple[Path, dict]) -> None:
    services = {d.name: d for d in manifest.feature_services(parsed[1])}
    assert sorted(services) == ["svc_config", "svc_top_level"]
    assert services["svc_config"].meta == {"features": ["in_config:x"]}
    assert services["svc_config"].yaml_file == "models/schema.yml"
    assert services["svc_config"].owner == "Ranking team"
    assert services["svc_config"].description == "scores"
    assert services["svc_top_level"].meta == {"features": ["top_level:x"]}
    assert services["svc_top_level"].owner == "ml@example.com"


def old_style_node(meta: dict) -> dict:
    """A node as older dbt versions wrote it: meta at the top level only."""
    return {"resource_type": "model", "name": "v", "database": None, "schema": "analytics",
            "alias": "v", "patch_path": "proj://models/v.yml", "original_file_path": "models/v.sql",
            "config": {"materialized": "table"}, "meta": meta, "columns": {}}


def test_older_manifests_with_top_level_meta_only() -> None:
    doc = {"nodes": {"model.p.v": old_style_node({"featsql": {"entities": ["k"]}})},
           "exposures": {"exposure.p.s": {"name": "s", "type": "ml", "original_file_path":
                                          "models/v.yml", "meta": {"featsql": {"features": ["v:*"]}},
                                          "owner": {"name": "o"}}}}
    [view] = manifest.feature_views(doc)
    assert (view.name, view.meta, view.yaml_file, view.relation) == (
        "v", {"entities": ["k"]}, "models/v.yml", (None, "analytics", "v"))
    [service] = manifest.feature_services(doc)
    assert (service.name, service.meta) == ("s", {"features": ["v:*"]})


def test_config_meta_wins_over_top_level_meta() -> None:
    node = old_style_node({"featsql": {"entities": ["old"]}})
    node["config"]["meta"] = {"featsql": {"entities": ["new"]}}
    [view] = manifest.feature_views({"nodes": {"model.p.v": node}})
    assert view.meta == {"entities": ["new"]}


def test_models_without_featsql_meta_and_non_models_are_ignored() -> None:
    seed = dict(old_style_node({"featsql": {}}), resource_type="seed")
    plain = old_style_node({"owner": "x"})
    assert manifest.feature_views({"nodes": {"seed.p.s": seed, "model.p.v": plain}}) == []


# -- staleness and auto-parse --------------------------------------------------------------------

def test_staleness_follows_source_files(repo: Path) -> None:
    assert not manifest.is_stale(repo)  # the built repo's manifest is fresh
    built = manifest.manifest_path(repo).stat().st_mtime
    later = built + 10
    for ignored in ("data/online.db", "target/run_results.json", "logs/dbt.log"):
        path = repo / ignored
        path.parent.mkdir(exist_ok=True)
        path.touch()
        os.utime(path, (later, later))
    assert not manifest.is_stale(repo), "outputs (data/, target/, logs/) are not sources"
    for source in ("models/driver_hourly_stats.sql", "models/schema.yml", "dbt_project.yml"):
        os.utime(repo / source, (later, later))
        assert manifest.is_stale(repo), source
        os.utime(repo / source, (built - 10, built - 10))
    manifest.manifest_path(repo).unlink()
    assert manifest.is_stale(repo)


def test_no_parse_reads_the_existing_manifest_even_when_stale(repo: Path) -> None:
    config = load_config(repo)
    before = json.loads(manifest.manifest_path(repo).read_text())
    (repo / "models" / "schema.yml").write_text((repo / "models" / "schema.yml").read_text()
                                                .replace("ttl: 1d", "ttl: 3d"))
    assert manifest.is_stale(repo)
    assert manifest.load_manifest(config, parse=False) == before
    manifest.manifest_path(repo).unlink()
    with pytest.raises(FeatsqlError, match=r"target/manifest.json: no manifest; run `dbt parse`"):
        manifest.load_manifest(config, parse=False)


def test_dbt_parse_failure_is_one_line(repo: Path) -> None:
    (repo / "models" / "broken.yml").write_text("version: 2\nmodels:\n  - name: [\n")
    with pytest.raises(FeatsqlError) as err:
        manifest.load_manifest(load_config(repo))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"dbt parse failed in {repo}: Parsing Error")
    assert "broken.yml" in message


def test_parse_passes_target_only_when_it_is_not_the_default(repo: Path) -> None:
    config = load_config(repo)
    assert config.dbt.target == "dev"
    assert manifest._profile_args(config) == []  # dev is the profile's default target
    other = config.model_copy(update={"dbt": config.dbt.model_copy(update={"target": "prod"})})
    assert manifest._profile_args(other) == ["--target", "prod"]
    named = config.model_copy(update={"dbt": config.dbt.model_copy(update={"profile": "other"})})
    assert manifest._profile_args(named) == ["--profile", "other", "--target", "dev"]


def test_copy_repo_keeps_the_manifest_fresh(built_repo: Path, tmp_path: Path) -> None:
    copy = copy_repo(built_repo, tmp_path / "copy")
    assert not manifest.is_stale(copy)
