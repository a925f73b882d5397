"""Materialization past one process: `materialization.workers` and `--shard I/N`.

Each worker or shard streams its partition of the latest values (a hash of the join keys computed
in the warehouse, DuckDB opened read-only); the registry records each shard of a run, and the
watermark moves only when every shard has finished, so a shard killed with SIGKILL leaves it
where it was and a rerun of that shard completes the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta, timezone
from pathlib import Path

import yaml

from featsql.store import FeatureStore
from tests.online.data import BASE, driver_stats, latest
from tests.online.stores import ViewSpec, load_table, make_repo, register, store_section
from tests.support import exe, invoke

END = BASE + timedelta(days=10)
IDS = list(range(1001, 1041))


def _repo(tmp_path: Path, workers: int = 1) -> Path:
    repo = make_repo(tmp_path / "repo", store_section("sqlite", tmp_path / "repo"),
                     project=f"eng_{os.getpid()}")
    if workers > 1:
        doc = yaml.safe_load((repo / "featsql.yml").read_text())
        doc["materialization"] = {"engine": "local", "workers": workers}
        (repo / "featsql.yml").write_text(yaml.safe_dump(doc))
    store = FeatureStore(repo_path=repo)
    load_table(store, "driver_stats", driver_stats())
    register(store, [ViewSpec("stats", "driver_stats", ["driver_id"])])
    store.close()
    return repo


def _expected() -> list:
    rows = latest(driver_stats(), ["driver_id"], None, END)
    return [rows[(i,)]["conv_rate"] for i in IDS]


def _online(repo: Path) -> list:
    store = FeatureStore(repo_path=repo)
    try:
        return store.get_online_features(["stats:conv_rate"], [{"driver_id": i} for i in IDS]).to_dict()["conv_rate"]
    finally:
        store.close()


def _watermark(repo: Path):
    store = FeatureStore(repo_path=repo)
    try:
        return store.watermark("stats")
    finally:
        store.close()


def _shard(repo: Path, shard: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([exe("featsql"), "materialize-incremental", END.isoformat(), "--shard", shard],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_shards_in_parallel_processes_then_the_watermark(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    first = [_shard(repo, "0/3"), _shard(repo, "1/3")]
    outs = [p.communicate(timeout=120) for p in first]
    assert all(p.returncode == 0 for p in first), outs
    assert "shard 0/3" in outs[0][0] and "the watermark moves when all are" in outs[0][0] + outs[1][0]
    assert _watermark(repo) is None  # two of three: not yet
    partial = _online(repo)
    assert 0 < sum(v is not None for v in partial) < len(IDS)
    last = _shard(repo, "2/3")
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, err
    assert _watermark(repo) == END.replace(tzinfo=timezone.utc)
    assert _online(repo) == _expected()  # every entity, once, newest


_SLOW_SHARD = """
import sys, time
from pathlib import Path
import featsql.materialize as m
real = m._write_view
def slow(*args, **kw):
    real(*args, **kw)
    Path(sys.argv[1]).write_text("written")
    time.sleep(120)  # killed here: rows written, shard not recorded
m._write_view = slow
from featsql.cli import main
main(sys.argv[2:], standalone_mode=True)
"""


def test_a_killed_shard_leaves_the_watermark_and_its_rerun_completes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for shard in ("0/2",):
        p = _shard(repo, shard)
        assert p.wait(120) == 0
    flag = tmp_path / "written"
    script = tmp_path / "slow.py"
    script.write_text(_SLOW_SHARD)
    proc = subprocess.Popen([sys.executable, str(script), str(flag), "materialize-incremental",
                             END.isoformat(), "--shard", "1/2"], cwd=repo)
    for _ in range(600):
        if flag.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert flag.exists(), "the shard did not get to write"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert _watermark(repo) is None
    rerun = _shard(repo, "1/2")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "2 of 2 done" in out
    assert _watermark(repo) == END.replace(tzinfo=timezone.utc)
    assert _online(repo) == _expected()


def test_workers_split_every_view_and_agree_with_one_process(tmp_path: Path) -> None:
    repo = _repo(tmp_path, workers=2)
    store = FeatureStore(repo_path=repo)
    (run,) = store.materialize_incremental(END)
    assert run.rows == len(IDS) and run.start is None
    assert store.watermark("stats") == END.replace(tzinfo=timezone.utc)
    store.close()
    assert _online(repo) == _expected()


def test_shard_arguments_are_checked(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    bad = invoke("materialize-incremental", END.isoformat(), "--shard", "3/3", cwd=repo)
    assert bad.exit_code == 2 and "expected I/N with 0 <= I < N" in bad.output
    now = invoke("materialize-incremental", "now", "--shard", "0/2", cwd=repo)
    assert now.exit_code == 1 and "--shard needs an explicit END" in now.stderr
