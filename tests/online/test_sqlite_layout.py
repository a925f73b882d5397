"""SQLite tables follow their view: a changed feature layout rebuilds the table (a kept row would
serve a new feature as NULL with status PRESENT), an unchanged one keeps its rows."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from featsql.definitions import Entity, Feature, FeatureView, Relation
from featsql.online.sqlite import SqliteOnlineStore


def _view(*features: tuple[str, str]) -> FeatureView:
    return FeatureView(name="v", entities=(Entity(name="driver", join_key="driver_id"),),
                       join_key_types=("int",), timestamp_field="ts", relation=Relation(identifier="v"),
                       features=tuple(Feature(name=n, dtype=t) for n, t in features))


def test_changed_layout_rebuilds_unchanged_keeps(tmp_path: Path) -> None:
    config = SimpleNamespace(project="p", online_store=SimpleNamespace(path=str(tmp_path / "o.db")),
                             path=lambda p: Path(p))
    store = SqliteOnlineStore(config)
    first = _view(("a", "float"))
    assert store.create([first]) == ["p__v"]
    store.con.execute('INSERT INTO "p__v" VALUES (1, 10, 10, 0.5)')
    assert store.create([first]) == []                        # same layout: rows stay
    assert store.con.execute('SELECT COUNT(*) FROM "p__v"').fetchone() == (1,)
    for changed in (_view(("a", "float"), ("b", "int")), _view(("a", "int")), _view(("b", "int"))):
        assert store.create([changed]) == ["p__v"]            # added / retyped / replaced: rebuilt
        assert store.con.execute('SELECT COUNT(*) FROM "p__v"').fetchone() == (0,)
        store.con.execute('INSERT INTO "p__v" (driver_id) VALUES (1)')
    store.close()
