"""CLI error handling in-process: one line on stderr, exit 1, the traceback only with --debug."""
from __future__ import annotations

from pathlib import Path

import pytest

from featsql.errors import FeatsqlError
from featsql.store import FeatureStore
from tests.support import invoke


def test_debug_raises_instead_of_printing(tmp_path: Path) -> None:
    with pytest.raises(FeatsqlError, match="missing.yml: no such file"):
        invoke("--debug", "-f", "missing.yml", "plan", cwd=tmp_path)


def test_unexpected_errors_are_squeezed_onto_one_line(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "featsql.yml").write_text("project: p\n")

    def boom(self, parse: bool = True):
        raise RuntimeError("Binder Error: no such column\nLINE 1: select x\n         ^")

    monkeypatch.setattr(FeatureStore, "plan", boom)
    result = invoke("plan", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: RuntimeError: Binder Error: no such column LINE 1: select x ^"]


def test_version(tmp_path: Path) -> None:
    result = invoke("--version", cwd=tmp_path)
    assert result.exit_code == 0 and "0.1.0" in result.stdout


def test_training_set_out_must_be_parquet(tmp_path: Path) -> None:
    result = invoke("training-set", "--entity-sql", "select 1", "--features", "v:f", "--out", "x.csv",
                    cwd=tmp_path)
    assert result.exit_code == 2 and "featsql writes Parquet" in result.output
