"""Small sqlglot builders shared by the compiler, warehouses and stores: every name quoted."""
from __future__ import annotations

import sqlglot
from sqlglot import exp

from featsql.definitions import Relation


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def table(relation: Relation | str) -> exp.Table:
    """A fully quoted table for a relation or a single (undotted) name."""
    parts = relation.parts() if isinstance(relation, Relation) else [relation]
    ids: list[exp.Identifier | None] = [ident(p) for p in parts]
    ids = [None] * (3 - len(ids)) + ids
    return exp.Table(this=ids[2], db=ids[1], catalog=ids[0])


def parse_table_name(name: str, dialect: str) -> exp.Table:
    """A user-given table name (`schema.table`), parsed, never pasted; parts quoted."""
    parsed = sqlglot.parse_one(name, into=exp.Table, dialect=dialect)
    for part in ("this", "db", "catalog"):
        node = parsed.args.get(part)
        if isinstance(node, exp.Identifier):
            node.set("quoted", True)
    return parsed


def drop_table(target: exp.Table) -> exp.Drop:
    return exp.Drop(tables=[target], kind="TABLE", exists=True)
