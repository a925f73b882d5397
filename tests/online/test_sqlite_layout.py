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
    store.con.execute('INSERT INTO "p__v" VALUES (1, 10, 10, NULL, 0.5)')
    assert store.create([first]) == []                        # same layout: rows stay
    assert store.con.execute('SELECT COUNT(*) FROM "p__v"').fetchone() == (1,)
    for changed in (_view(("a", "float"), ("b", "int")), _view(("a", "int")), _view(("b", "int"))):
        assert store.create([changed]) == ["p__v"]            # added / retyped / replaced: rebuilt
        assert store.con.execute('SELECT COUNT(*) FROM "p__v"').fetchone() == (0,)
        store.con.execute('INSERT INTO "p__v" (driver_id) VALUES (1)')
    store.close()


def test_a_table_from_before_pushes_gets_its_column_in_place(tmp_path: Path) -> None:
    """Tables written before pushes existed lack `_featsql_pushed`: apply adds it with ALTER
    TABLE and keeps every row (a rebuild would lose them while the watermark says they exist)."""
    config = SimpleNamespace(project="p", online_store=SimpleNamespace(path=str(tmp_path / "o.db")),
                             path=lambda p: Path(p))
    store = SqliteOnlineStore(config)
    store.con.execute('CREATE TABLE "p__v" ("driver_id" INTEGER NOT NULL, "_featsql_event_ts" INTEGER,'
                      ' "_featsql_created_ts" INTEGER, "a" REAL, PRIMARY KEY ("driver_id")) WITHOUT ROWID')
    store.con.execute('INSERT INTO "p__v" VALUES (1, 10, 10, 0.5)')
    assert store.create([_view(("a", "float"))]) == []
    assert store.con.execute('SELECT "driver_id", "a", "_featsql_pushed" FROM "p__v"').fetchall() == [(1, 0.5, None)]
    store.close()
