"""Small sqlglot builders shared by the compiler, warehouses and stores: every name quoted.

Names featsql makes itself (CTEs, internal columns, uploads, online tables) are quoted exactly as
written. Names of what dbt built (relations, their columns, an entity query's columns) go through
`stored_name`, the one name-spelling path: a name spelled like an unquoted identifier in lower
case (`driver_id`, as dbt YAML writes it) is spelled the way the warehouse stores an unquoted
name (sqlglot's per-dialect normalization: Snowflake `DRIVER_ID`, the others `driver_id`); any
other spelling (`DriverId`, `"trip id"`) was quoted where it was created and is kept exactly.
"""
from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from featsql.definitions import Relation

_UNQUOTED = re.compile(r"[a-z_][a-z0-9_$]*")


@lru_cache(maxsize=4096)
def stored_name(name: str, dialect: str | None) -> str:
    """How the `dialect` warehouse stores the name dbt wrote as `name` (see the module doc)."""
    if dialect is None or not _UNQUOTED.fullmatch(name):
        return name
    unquoted = exp.to_identifier(name, quoted=False)
    return Dialect.get_or_raise(dialect).normalize_identifier(unquoted).name


def dbt_name(stored: str, dialect: str | None) -> str:
    """The inverse of `stored_name`: a catalog's name as dbt YAML writes it (Snowflake's
    DRIVER_ID -> driver_id); a name that was quoted where it was made is returned as it is."""
    lower = stored.lower()
    return lower if lower != stored and stored_name(lower, dialect) == stored else stored


def ident(name: str, dialect: str | None = None) -> exp.Identifier:
    """A quoted identifier; spelled by `stored_name` when a dialect is given."""
    return exp.to_identifier(stored_name(name, dialect), quoted=True)


def col(name: str, table: str | None = None, dialect: str | None = None) -> exp.Column:
    """A quoted column (`table` is a featsql alias, never spelled); `dialect` spells the name."""
    return exp.Column(this=ident(name, dialect), table=ident(table) if table else None)


def table(relation: Relation | str, dialect: str | None = None) -> exp.Table:
    """A fully quoted table for a relation (parts spelled for `dialect`) or a featsql name."""
    if isinstance(relation, Relation):
        ids: list[exp.Identifier | None] = [ident(p, dialect) for p in relation.parts()]
    else:
        ids = [ident(relation)]
    ids = [None] * (3 - len(ids)) + ids
    return exp.Table(this=ids[2], db=ids[1], catalog=ids[0])


def parse_table_name(name: str, dialect: str) -> exp.Table:
    """A user-given table name (`schema.table`), parsed, never pasted: unquoted parts are spelled
    as the warehouse stores unquoted names, quoted parts kept as typed."""
    parsed = sqlglot.parse_one(name, into=exp.Table, dialect=dialect)
    for part in ("this", "db", "catalog"):
        node = parsed.args.get(part)
        if isinstance(node, exp.Identifier):
            if not node.quoted:
                node = Dialect.get_or_raise(dialect).normalize_identifier(node)
            parsed.set(part, exp.to_identifier(node.name, quoted=True))
    return parsed


def drop_table(target: exp.Table) -> exp.Drop:
    return exp.Drop(tables=[target], kind="TABLE", exists=True)
