"""One capability table per warehouse dialect, read by the planners (as sqlglot does with dialects).

Shared code asks a `Capabilities` what it can do; the few SQL forms that really differ are small
overridable methods here, not `if dialect == ...` branches in the planner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp

from featsql.errors import FeatsqlError, did_you_mean

_UNQUOTED_SAFE = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass(frozen=True)
class Capabilities:
    name: ClassVar[str]
    # Native as-of join form: "duckdb" (ASOF LEFT JOIN ... ON k AND ts >= ts), "snowflake"
    # (ASOF JOIN ... MATCH_CONDITION), or None (sort-based window plan).
    asof: ClassVar[str | None] = None
    # The ASOF inequality may compare STRUCTs (DuckDB): ordering by (ts, created, content hash)
    # inside the join replaces a window dedup over the whole scan (about 2x faster).
    asof_struct: ClassVar[bool] = False
    qualify: ClassVar[bool] = False
    distinct_on: ClassVar[bool] = False
    # ARG_MAX(struct of the row, (ts, created)) GROUP BY keys: latest values by hash aggregate,
    # memory bounded by the number of entities instead of a window sort over every row.
    latest_arg_max: ClassVar[bool] = False
    # CTEs may be inlined (run once per reference) unless marked MATERIALIZED.
    materialized_cte: ClassVar[bool] = False
    # How an entity DataFrame reaches the warehouse, for docs and `featsql compile` notes.
    upload: ClassVar[str] = "insert"
    naive_type: ClassVar[str] = "TIMESTAMP"
    aware_type: ClassVar[str] = "TIMESTAMPTZ"

    def stored_name(self, identifier: str) -> str:
        """How the warehouse stores a name dbt wrote unquoted (featsql quotes every name)."""
        return identifier

    def utc_naive(self, value: exp.Expression) -> exp.Expression:
        """Any timestamp (naive = UTC, aware = any zone) -> a naive UTC timestamp.

        Relies on the session time zone being UTC, which every featsql connection sets.
        """
        aware = exp.cast(value, exp.DataType.build(self.aware_type, dialect=self.name))
        return exp.cast(aware, exp.DataType.build(self.naive_type, dialect=self.name))

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        """Microseconds since 1970 of a naive UTC timestamp, as an integer."""
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=value)
        return exp.cast(exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000)), "BIGINT")

    def minus_seconds(self, value: exp.Expression, seconds: int) -> exp.Expression:
        return exp.Sub(this=value, expression=exp.Interval(this=exp.Literal.string(str(seconds)),
                                                           unit=exp.var("SECOND")))

    def timestamp_literal(self, iso: str) -> exp.Expression:
        return exp.cast(exp.Literal.string(iso), exp.DataType.build(self.naive_type, dialect=self.name))


@dataclass(frozen=True)
class DuckDB(Capabilities):
    name = "duckdb"
    asof = "duckdb"
    asof_struct = True
    latest_arg_max = True
    qualify = True
    distinct_on = True
    materialized_cte = True
    upload = "register an Arrow table (no copy)"

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="EPOCH_US", expressions=[value])


@dataclass(frozen=True)
class Postgres(Capabilities):
    name = "postgres"
    distinct_on = True
    materialized_cte = True
    upload = "COPY into a temporary table"


@dataclass(frozen=True)
class Redshift(Capabilities):
    name = "redshift"
    qualify = True
    upload = "COPY from S3 into a temporary table"


@dataclass(frozen=True)
class Snowflake(Capabilities):
    name = "snowflake"
    asof = "snowflake"
    qualify = True
    upload = "write_pandas into a temporary table"
    naive_type = "TIMESTAMP_NTZ"
    aware_type = "TIMESTAMP_TZ"

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="DATE_PART", expressions=[exp.var("EPOCH_MICROSECOND"), value])

    def stored_name(self, identifier: str) -> str:
        # Unquoted names resolve upper case: dbt's `driver_id` is stored as DRIVER_ID.
        return identifier.upper() if _UNQUOTED_SAFE.fullmatch(identifier) else identifier

    def utc_naive(self, value: exp.Expression) -> exp.Expression:
        # TIMESTAMP_TZ -> NTZ keeps the wall clock of the stored offset; convert to UTC first.
        aware = exp.cast(value, exp.DataType.build("TIMESTAMP_TZ", dialect="snowflake"))
        utc = exp.Anonymous(this="CONVERT_TIMEZONE", expressions=[exp.Literal.string("UTC"), aware])
        return exp.cast(utc, exp.DataType.build("TIMESTAMP_NTZ", dialect="snowflake"))


@dataclass(frozen=True)
class BigQuery(Capabilities):
    name = "bigquery"
    qualify = True
    upload = "a load job into a temporary table"
    naive_type = "DATETIME"
    aware_type = "TIMESTAMP"
    # utc_naive: CAST(CAST(x AS TIMESTAMP) AS DATETIME) — BigQuery casts in UTC both ways.

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(value, "TIMESTAMP", dialect="bigquery")])


DIALECTS: dict[str, Capabilities] = {
    c.name: c() for c in (DuckDB, Postgres, Redshift, Snowflake, BigQuery)
}


def capabilities(dialect: str) -> Capabilities:
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise FeatsqlError(f"unknown dialect '{dialect}'{did_you_mean(dialect, set(DIALECTS))};"
                           f" expected one of {', '.join(DIALECTS)}") from None
