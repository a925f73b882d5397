#!/usr/bin/env python
"""Feast's own client as a test peer of `featsql serve`. Runs in bench/.venv-feast.

    .venv/bin/python bench/server_bench.py --stores sqlite --no-feast   # or any run: makes the repo
    bench/.venv-feast/bin/python bench/feast_remote_peer.py [--featsql-repo bench/work/server/featsql-sqlite]
                                                            [--url http://127.0.0.1:PORT] [--entities 300]

A Feast repo (under --work) whose feature_store.yaml says
`online_store: {type: remote, path: http://127.0.0.1:PORT}` declares the same entity, view
(driver_hourly_stats, f0..f7 Float64) and feature service (driver_activity) that
bench/server_bench.py registers in featsql. Without --url, `featsql serve` (featsql's venv,
ROOT/.venv) is started on a free port in --featsql-repo and stopped at the end.

For the same entity ids (random present ids, a few unknown ones, a duplicate), each case compares
Feast's answer through featsql serve with featsql's SDK (`FeatureStore.get_online_features(...)
.to_dict()` and `.statuses`, run in featsql's venv), column by column, exactly:

  features           FeatureStore.get_online_features(features=[view:f0..f7], entity_rows)
  full_names         the same with full_feature_names=True
  feature_service    features=store.get_feature_service("driver_activity")
  one_entity         a single present entity
  online_read        RemoteOnlineStore.online_read(config, view, entity_keys, features): the
                     per-view path (values and the event time it parses)

Prints PASS or FAIL per case with the first mismatches; exit status 0 only if all pass.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from server_bench import FEATURES, HERE, REFS, ROOT, SERVICE, VIEW  # noqa: E402 - same dir

FEATSQL_SDK = r"""
import json, sys
from featsql.store import FeatureStore
spec = json.loads(sys.argv[1])
store = FeatureStore(repo_path=spec["repo"])
out = {}
for case, c in spec["cases"].items():
    feats = store.get_feature_service(c["service"]) if c.get("service") else c["features"]
    resp = store.get_online_features(feats, [{"driver_id": i} for i in c["ids"]],
                                     full_feature_names=c.get("full", False))
    out[case] = {"values": resp.to_dict(), "statuses": resp.statuses,
                 "event_timestamps": {k: [None if t is None else t.isoformat() for t in v]
                                      for k, v in resp.event_timestamps.items()}}
print(json.dumps(out))
"""


def log(msg: str) -> None:
    print(f"[feast_remote_peer] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_featsql(repo: Path, featsql: Path, logpath: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logf = open(logpath, "w")
    proc = subprocess.Popen([str(featsql), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=str(repo), stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 60:
        if proc.poll() is not None:
            raise SystemExit(f"featsql serve exited {proc.returncode}:\n{logpath.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"featsql serve not healthy after 60s:\n{logpath.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def feast_client(work: Path, url: str, parquet: Path):
    from datetime import timedelta

    from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    work.mkdir(parents=True, exist_ok=True)
    registry = work / "registry.db"
    registry.unlink(missing_ok=True)
    (work / "feature_store.yaml").write_text(
        "project: featsql_bench\n"
        f"registry: {registry}\n"
        "provider: local\n"
        "online_store:\n"
        "  type: remote\n"
        f"  path: {url}\n"
        "entity_key_serialization_version: 3\n")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(name="driver_stats_source", path=str(parquet),
                        timestamp_field="event_timestamp", created_timestamp_column="created")
    fv = FeatureView(name=VIEW, entities=[driver], ttl=timedelta(days=0),
                     schema=[Field(name=f, dtype=Float64) for f in FEATURES], source=source, online=True)
    service = FeatureService(name=SERVICE, features=[fv])
    store = FeatureStore(repo_path=str(work))
    store.apply([driver, fv, service])
    return store, fv


def diff(case: str, want: dict, got: dict, limit: int = 5) -> list[str]:
    out = []
    for col in want:
        if col not in got:
            out.append(f"{case}: column {col!r} missing from Feast's answer (has {sorted(got)})")
            continue
        for i, (a, b) in enumerate(zip(want[col], got[col])):
            if a != b or type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
                out.append(f"{case}: {col}[{i}] featsql {a!r} vs Feast {b!r}")
        if len(want[col]) != len(got[col]):
            out.append(f"{case}: {col} has {len(got[col])} values from Feast, {len(want[col])} from featsql")
    extra = [c for c in got if c not in want]
    if extra:
        out.append(f"{case}: extra columns from Feast: {extra}")
    return out[:limit] if limit else out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--featsql-repo", default=str(HERE / "work" / "server" / "featsql-sqlite"))
    p.add_argument("--featsql-python", default=str(ROOT / ".venv" / "bin" / "python"))
    p.add_argument("--url", help="a running featsql serve (default: start one in --featsql-repo)")
    p.add_argument("--data", default=str(HERE / "data" / "online"))
    p.add_argument("--work", default=str(HERE / "work" / "feast_remote_peer"))
    p.add_argument("--entities", type=int, default=300, help="entity ids per multi-entity case")
    a = p.parse_args(argv)
    repo = Path(a.featsql_repo).resolve()
    if not (repo / "featsql.yml").exists():
        raise SystemExit(f"{repo}/featsql.yml missing: run bench/server_bench.py first (it makes the repo)")
    data = Path(a.data).resolve()
    n_ent = json.loads((data / "meta.json").read_text())["entities"] if (data / "meta.json").exists() else 100000
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)

    rng = random.Random(99)
    ids = [rng.randint(1, n_ent) for _ in range(a.entities - 4)]
    ids = [n_ent + 5] + ids[:10] + [ids[0]] + ids[10:] + [n_ent + 1, -3]  # unknown first, a duplicate
    cases = {"features": {"features": REFS, "ids": ids},
             "full_names": {"features": REFS, "ids": ids, "full": True},
             "feature_service": {"service": SERVICE, "ids": ids},
             "one_entity": {"features": REFS, "ids": [ids[1]]},
             "online_read": {"features": REFS, "ids": ids}}
    sdk = subprocess.run([a.featsql_python, "-c", FEATSQL_SDK, json.dumps({"repo": str(repo), "cases": cases})],
                         capture_output=True, text=True, cwd=str(repo))
    if sdk.returncode != 0:
        raise SystemExit(f"featsql SDK failed:\n{sdk.stderr[-2000:]}")
    want = json.loads(sdk.stdout.strip().splitlines()[-1])

    proc = None
    url = a.url
    if not url:
        proc, url = start_featsql(repo, Path(a.featsql_python).parent / "featsql", work / "featsql-serve.log")
        log(f"featsql serve on {url} (repo {repo})")
    results = {}
    try:
        import feast

        store, fv = feast_client(work / "feast_repo", url, data / "features.parquet")
        log(f"Feast {feast.__version__} client, online_store: remote -> {url}")
        for case, c in cases.items():
            rows = [{"driver_id": i} for i in c["ids"]]
            try:
                if case == "online_read":
                    got = online_read_dict(store, fv, c["ids"])
                    exp = {k: v for k, v in want[case]["values"].items() if k in FEATURES}
                    mism = diff(case, exp, got["values"], 0)
                    # Feast's per-view path keeps one event time per response (the first value's)
                    first = want[case]["event_timestamps"]["f0"][0]
                    epoch = "1970-01-01T00:00:00+00:00"  # what Feast's own server sends for NOT_FOUND
                    if got["event_ts"] != first and not (first is None and got["event_ts"] in (None, epoch)):
                        mism.append(f"{case}: event time featsql {first} vs Feast parsed {got['event_ts']}")
                else:
                    feats = store.get_feature_service(SERVICE) if c.get("service") else c["features"]
                    resp = store.get_online_features(features=feats, entity_rows=rows,
                                                     full_feature_names=c.get("full", False))
                    mism = diff(case, want[case]["values"], resp.to_dict(), 0)
                    mism += diff(case + " statuses", want[case]["statuses"], feast_statuses(resp), 0)
            except Exception as e:  # noqa: BLE001 - a failing case is a result
                mism = [f"{case}: {type(e).__name__}: {str(e)[:500]}"]
            present = sum(s == "PRESENT" for s in want[case]["statuses"]["f0" if not c.get("full") else f"{VIEW}__f0"])
            results[case] = {"pass": not mism, "entities": len(c["ids"]), "present": present,
                             "mismatches": len(mism), "first": mism[:5]}
    finally:
        if proc is not None:
            stop(proc)
    ok = all(r["pass"] for r in results.values())
    for case, r in results.items():
        print(f"{'PASS' if r['pass'] else 'FAIL'}  {case}: {r['entities']} entities ({r['present']} present),"
              f" {r['mismatches']} mismatches")
        for m in r["first"]:
            print(f"        {m}")
    print(f"{'PASS' if ok else 'FAIL'}: Feast {__import__('feast').__version__} remote online store"
          f" against featsql serve ({url})")
    (work / "result.json").write_text(json.dumps({"pass": ok, "url": url, "cases": results}, indent=2))
    return 0 if ok else 1


def feast_statuses(resp) -> dict:
    """{feature: [status name]} from Feast's OnlineResponse (join keys left out)."""
    from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

    names = list(resp.proto.metadata.feature_names.val)
    return {n: [FieldStatus.Name(x) for x in r.statuses]
            for n, r in zip(names, resp.proto.results) if n != "driver_id"}


def online_read_dict(store, fv, ids: list[int]) -> dict:
    """RemoteOnlineStore.online_read for one view: {feature: [python values]}, the event time."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type

    keys = [EntityKey(join_keys=["driver_id"], entity_values=[Value(int64_val=i)]) for i in ids]
    online = store._get_provider().online_store
    rows = online.online_read(store.config, fv, keys, FEATURES)
    values = {f: [] for f in FEATURES}
    event_ts = None
    for i, (ts, feats) in enumerate(rows):
        if i == 0 and ts is not None:
            event_ts = ts.isoformat()
        for f in FEATURES:
            v = (feats or {}).get(f)
            values[f].append(None if v is None or v.WhichOneof("val") is None
                             else feast_value_type_to_python_type(v))
    return {"values": values, "event_ts": event_ts}


if __name__ == "__main__":
    sys.exit(main())
