"""A JSON file registry, written atomically (temp file in the same directory + rename), every
read-modify-write under an advisory lock (`<file>.lock`), so writers on one machine serialize."""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from featsql.errors import FeatsqlError
from featsql.registry.base import FORMAT, Registered, Registry, RegistryConflict, RegistryState


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


class FileRegistry(Registry):
    def __init__(self, path: Path, project: str):
        self.path = Path(path)
        self.project = project

    @property
    def location(self) -> str:
        return str(self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self) -> RegistryState:
        if not self.path.is_file():
            return RegistryState(project=self.project, location=str(self.path))
        try:
            raw = json.loads(self.path.read_text())
        except json.JSONDecodeError as e:
            raise FeatsqlError(f"{self.path}: registry is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise FeatsqlError(f"{self.path}: not a featsql registry (expected a JSON object)")
        if raw.get("project") != self.project:
            raise FeatsqlError(
                f"{self.path}: registry belongs to project '{raw.get('project')}', "
                f"featsql.yml says '{self.project}'"
            )
        state = RegistryState(project=self.project, format=int(raw.get("format", 1)),
                              location=str(self.path), version=int(raw.get("version", 0)))
        for kind in state.objects:
            state.objects[kind] = {
                name: Registered(version=r["version"], spec=r["spec"])
                for name, r in raw.get(kind, {}).items()
            }
        state.watermarks = {v: datetime.fromisoformat(ts) for v, ts in raw.get("watermarks", {}).items()}
        state.shards = {run: list(done) for run, done in (raw.get("shards") or {}).items()}
        if raw.get("updated_at"):
            state.updated_at = datetime.fromisoformat(raw["updated_at"])
        return state

    def commit(self, state: RegistryState) -> None:
        with self._locked():
            current = self.load()
            if current.version != state.version:
                raise RegistryConflict(f"{self.path}: another apply committed since this one read"
                                       f" the registry (version {state.version} -> {current.version})")
            marks = {v: ts for v, ts in current.watermarks.items() if v not in state.dropped_watermarks}
            state.watermarks, state.shards = marks, current.shards
            state.version = current.version + 1
            self._store(state)

    def set_watermark(self, view: str, end: datetime, view_version: int | None = None) -> bool:
        with self._locked():
            state = self.load()
            if view_version is not None and state.view_version(view.split("@", 1)[0]) != view_version:
                return False
            old = state.watermarks.get(view)
            if old is None or _utc(old) < _utc(end):
                state.watermarks[view] = end
                self._store(state)
            return True

    def shard_done(self, run: str, shard: int, shards: int) -> int:
        with self._locked():
            state = self.load()
            done = set(state.shards.get(run, [])) | {shard}
            state.shards[run] = sorted(done)
            self._store(state)
            return len(done)

    def forget_run(self, run: str) -> None:
        with self._locked():
            state = self.load()
            if state.shards.pop(run, None) is not None:
                self._store(state)

    def _store(self, state: RegistryState) -> None:
        state.updated_at = datetime.now(timezone.utc)
        state.format = FORMAT
        doc = {
            "format": FORMAT,
            "project": state.project,
            "version": state.version,
            "updated_at": state.updated_at.isoformat(),
            **{
                kind: {n: {"version": r.version, "spec": r.spec} for n, r in sorted(objs.items())}
                for kind, objs in state.objects.items()
            },
            "watermarks": {v: ts.isoformat() for v, ts in sorted(state.watermarks.items())},
            "shards": state.shards,
        }
        self._write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")

    def delete(self) -> bool:
        if self.path.is_file():
            self.path.unlink()
            return True
        return False

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
