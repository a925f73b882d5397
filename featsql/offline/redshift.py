"""Amazon Redshift: PostgreSQL's wire protocol (psycopg 3) with Redshift's SQL dialect.

Credentials are dbt-redshift's own for `method: database` (host, port, user, password, database,
schema, sslmode, connect_timeout). IAM authentication (`method: iam`) is not supported here: use
a database user, or a password from `{{ env_var(...) }}` in profiles.yml.

Entity DataFrames reach Redshift one of two ways:

* COPY from S3 (the native bulk path) when both are set in the environment:
    FEATSQL_REDSHIFT_S3_STAGING   s3://bucket/prefix/  where featsql writes one Parquet file per
                                  upload (deleted after the COPY); needs boto3 and AWS
                                  credentials in the usual places (env, ~/.aws, instance role)
    FEATSQL_REDSHIFT_IAM_ROLE     arn:aws:iam::123456789012:role/name  the role Redshift assumes
                                  to read that prefix (COPY ... IAM_ROLE)
  FEATSQL_REDSHIFT_S3_REGION optionally names the bucket's region when it is not the cluster's.
* otherwise multi-row INSERT ... VALUES statements, `insert_batch_rows` rows each: fine for the
  thousands of rows a training set usually has, slow for millions (configure S3 then).
"""
from __future__ import annotations

import io
import os
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.errors import FeatsqlError
from featsql.offline.postgres import PostgresWarehouse
from featsql.sql import ident

S3_STAGING_ENV = "FEATSQL_REDSHIFT_S3_STAGING"
IAM_ROLE_ENV = "FEATSQL_REDSHIFT_IAM_ROLE"
S3_REGION_ENV = "FEATSQL_REDSHIFT_S3_REGION"


class RedshiftWarehouse(PostgresWarehouse):
    adapter_type = "redshift"
    dialect = "redshift"
    utc_session = "SET TIME ZONE 'UTC'"
    distinct_on = False
    materialized_cte = False
    qualify = True
    default_port = 5439
    binary_results = False  # the leader node answers in text format only
    insert_batch_rows: ClassVar[int] = 1_000


    def key_partition(self, keys: list[exp.Expression], n: int) -> exp.Expression:
        # No hashtextextended: FNV_HASH chained over the keys (its second argument seeds it).
        from featsql.offline.base import _non_negative_mod

        value: exp.Expression | None = None
        for k in keys:
            args = [exp.cast(k, exp.DataType.build("VARCHAR"))] + ([value] if value is not None else [])
            value = exp.Anonymous(this="FNV_HASH", expressions=args)
        return _non_negative_mod(value, n)  # type: ignore[arg-type]

    def connect_kwargs(self) -> dict[str, Any]:
        method = getattr(self.credentials, "method", None) or "database"
        if method != "database":
            raise FeatsqlError(f"redshift profile: method '{method}' is not supported by featsql;"
                               " use method: database (user and password)")
        return super().connect_kwargs()

    def sql_type(self, arrow_type: pa.DataType) -> exp.DataType:
        if pa.types.is_nested(arrow_type):
            return exp.DataType.build("SUPER")  # Redshift has no JSON type
        if pa.types.is_duration(arrow_type):
            return exp.DataType.build("BIGINT")  # nor INTERVAL columns: microseconds
        return super().sql_type(arrow_type)

    # -- uploads -------------------------------------------------------------------------------
    def _load(self, target: exp.Table, data: pa.Table) -> None:
        staging, role = os.environ.get(S3_STAGING_ENV), os.environ.get(IAM_ROLE_ENV)
        if staging and role:
            self._copy_from_s3(target, data, staging, role)
        else:
            self._insert_rows(target, data)

    def _copy_from_s3(self, target: exp.Table, data: pa.Table, staging: str, role: str) -> None:
        """Parquet to s3://.../<uuid>.parquet, COPY ... FORMAT PARQUET, delete the file."""
        import boto3  # lazy: only installations that stage through S3 need it
        import pyarrow.parquet as pq

        if not staging.startswith("s3://"):
            raise FeatsqlError(f"{S3_STAGING_ENV}={staging!r}: expected s3://bucket/prefix/")
        bucket, _, prefix = staging[len("s3://"):].partition("/")
        key = f"{prefix.rstrip('/')}/featsql-{uuid.uuid4().hex}.parquet".lstrip("/")
        buffer = io.BytesIO()
        # Redshift reads Parquet timestamps in microseconds; nanoseconds would be refused.
        pq.write_table(data, buffer, coerce_timestamps="us", allow_truncated_timestamps=True)
        s3 = boto3.client("s3", region_name=os.environ.get(S3_REGION_ENV) or None)
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        try:
            self.execute(self.sql(copy_from_s3(target, data.column_names, f"s3://{bucket}/{key}",
                                               role, os.environ.get(S3_REGION_ENV))))
        finally:
            s3.delete_object(Bucket=bucket, Key=key)

    def _insert_rows(self, target: exp.Table, data: pa.Table) -> None:
        for statement in insert_statements(target, data, self.insert_batch_rows):
            self.execute(self.sql(statement))


def copy_from_s3(target: exp.Table, columns: list[str], uri: str, role: str,
                 region: str | None = None) -> exp.Copy:
    """COPY target (columns) FROM 's3://...' IAM_ROLE '...' FORMAT AS PARQUET [REGION '...']."""
    params = [exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("PARQUET"))]
    if region:
        params.append(exp.CopyParameter(this=exp.var("REGION"), expression=exp.Literal.string(region)))
    # Redshift's COPY FROM PARQUET matches columns by position: list them in the file's order.
    return exp.Copy(this=exp.Schema(this=target.copy(), expressions=[ident(c) for c in columns]),
                    kind=True, files=[exp.Literal.string(uri)],
                    credentials=exp.Credentials(iam_role=exp.Literal.string(role)), params=params)


def insert_statements(target: exp.Table, data: pa.Table, batch_rows: int) -> Iterator[exp.Insert]:
    """Multi-row INSERT ... VALUES statements of at most `batch_rows` rows, values as literals."""
    columns = exp.Schema(this=target.copy(), expressions=[ident(c) for c in data.column_names])
    types = [f.type for f in data.schema]
    for batch in data.to_batches(max_chunksize=batch_rows):
        rows = zip(*(c.to_pylist() for c in batch.columns)) if batch.num_columns else []
        values = [exp.Tuple(expressions=[literal(v, t) for v, t in zip(row, types)]) for row in rows]
        if values:
            yield exp.Insert(this=columns.copy(), expression=exp.Values(expressions=values))


def literal(value: Any, arrow_type: pa.DataType) -> exp.Expression:
    """A Python value from an Arrow column as a typed SQL literal (sqlglot escapes strings)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, Decimal)):
        return exp.Literal.number(str(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            return exp.cast(exp.Literal.string(text), exp.DataType.build("DOUBLE"))
        return exp.Literal.number(repr(value))
    if isinstance(value, datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMPNTZ"
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build(kind))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, time):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("TIME"))
    if isinstance(value, bytes):
        return exp.Anonymous(this="FROM_HEX", expressions=[exp.Literal.string(value.hex())])
    if pa.types.is_duration(arrow_type):
        return exp.Literal.number(str(int(value.total_seconds() * 1_000_000)))
    if isinstance(value, (list, dict)):
        import json

        text = exp.Literal.string(json.dumps(value, default=str))
        return exp.Anonymous(this="JSON_PARSE", expressions=[text])
    return exp.Literal.string(str(value))

