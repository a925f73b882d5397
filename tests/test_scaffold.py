"""`featsql init`: a runnable copy of the example repo, nothing built or applied in it."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from featsql.errors import FeatsqlError
from featsql.scaffold import init_repo, template_dirs
from tests.support import EXAMPLE, chdir, invoke


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_local_template_is_the_example_repo() -> None:
    assert template_dirs()["local"].resolve() == EXAMPLE.resolve()


def test_init_copies_the_sources_only(tmp_path: Path) -> None:
    # the example may hold a developer's build outputs; init must not copy them
    with chdir(tmp_path):
        dest = init_repo("my-repo")
    assert dest == Path("my-repo")
    repo = tmp_path / "my-repo"
    assert files(repo) == {
        "dbt_project.yml", "featsql.yml", "profiles.yml",
        "models/driver_hourly_stats.sql", "models/location_stats.sql", "models/schema.yml",
        "seeds/driver_labels.csv", "seeds/driver_stats_raw.csv", "seeds/location_stats_raw.csv",
    } | ({"data/.gitkeep"} if (EXAMPLE / "data" / ".gitkeep").exists() else set())
    assert (repo / "data").is_dir(), "the DuckDB file goes to data/; dbt does not create it"
    config = yaml.safe_load((repo / "featsql.yml").read_text())
    assert config["project"] == "my_repo"
    assert config["online_store"] == {"type": "sqlite", "path": "data/online.db"}
    assert config["registry"] == "data/registry.json"
    # everything else is the example, byte for byte
    for name in ("models/schema.yml", "profiles.yml", "seeds/driver_stats_raw.csv"):
        assert (repo / name).read_bytes() == (EXAMPLE / name).read_bytes()


@pytest.mark.parametrize(("name", "project"), [
    ("driver_ranking", "driver_ranking"), ("my-repo", "my_repo"), ("2025 repo", "repo_2025_repo"),
    ("sub/dir/feats", "feats"),
])
def test_project_name_comes_from_the_directory(tmp_path: Path, name: str, project: str) -> None:
    with chdir(tmp_path):
        init_repo(name)
    assert yaml.safe_load((tmp_path / name / "featsql.yml").read_text())["project"] == project


def test_init_into_an_empty_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with chdir(tmp_path / "repo"):
        init_repo(".")
    assert (tmp_path / "repo" / "featsql.yml").is_file()


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "keep.txt").write_text("mine")
    result = invoke("init", "repo", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: repo: already exists and is not empty"]
    assert files(tmp_path / "repo") == {"keep.txt"}


def test_unknown_template(tmp_path: Path) -> None:
    with pytest.raises(FeatsqlError, match="unknown template 'snowflak'; available: .*local"):
        with chdir(tmp_path):
            init_repo("x", "snowflak")
    assert not (tmp_path / "x").exists()


def test_init_cli_says_what_to_do_next(tmp_path: Path) -> None:
    result = invoke("init", "feature_repo", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "Created feature repo feature_repo/ (template local)" in result.stdout
    assert "cd feature_repo && dbt seed" in result.stdout
