"""BigQuery through google-cloud-bigquery (imported lazily: `pip install featsql[bigquery]`).

Credentials are dbt-bigquery's own: project (or database), dataset (or schema), location,
method (oauth | service-account | service-account-json | oauth-secrets) with keyfile /
keyfile_json / token fields, execution_project, maximum_bytes_billed, job_execution_timeout_seconds.

There is no session time zone to set: BigQuery's TIMESTAMP is an absolute (UTC) instant and
DATETIME is naive, which the compiler reads as UTC (DESIGN.md section 6).

Uploaded entity sets go through a load job (Parquet) into a table of the profile's dataset that
expires after a day even if featsql is killed before it drops it; every query runs with that
dataset as its default dataset, which is how the compiled SQL finds the table by its bare name.
"""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
from sqlglot import exp

from featsql.definitions import Relation
from featsql.errors import FeatsqlError
from featsql.offline.base import Warehouse
from featsql.sql import table

UPLOAD_EXPIRY = dt.timedelta(days=1)
_SCOPES = ("https://www.googleapis.com/auth/bigquery",
           "https://www.googleapis.com/auth/cloud-platform")


def _bigquery():
    try:
        from google.cloud import bigquery
    except ImportError:
        raise FeatsqlError("the bigquery warehouse needs google-cloud-bigquery:"
                           " pip install 'featsql[bigquery]'") from None
    return bigquery


class BigQueryWarehouse(Warehouse):
    adapter_type = "bigquery"
    dialect = "bigquery"
    utc_session = None  # TIMESTAMP is UTC by definition; no session zone exists to set
    qualify = True
    naive_type = "DATETIME"
    aware_type = "TIMESTAMP"
    # utc_naive: CAST(CAST(x AS TIMESTAMP) AS DATETIME) — BigQuery casts in UTC both ways.

    def __init__(self, credentials: Any = None, project_dir: Path | None = None):
        super().__init__(credentials, project_dir)
        self._client = None

    @property
    def project(self) -> str:
        c = self.credentials
        return getattr(c, "database", None) or getattr(c, "project", None)

    @property
    def dataset(self) -> str:
        c = self.credentials
        return getattr(c, "schema", None) or getattr(c, "dataset", None)

    def _google_credentials(self) -> Any:
        c = self.credentials
        method = str(getattr(c, "method", None) or "oauth")
        if method == "service-account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_file(c.keyfile, scopes=_SCOPES)
        if method == "service-account-json":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(dict(c.keyfile_json),
                                                                         scopes=_SCOPES)
        if method == "oauth-secrets":
            from google.oauth2.credentials import Credentials

            return Credentials(token=getattr(c, "token", None), refresh_token=c.refresh_token,
                               client_id=c.client_id, client_secret=c.client_secret,
                               token_uri=c.token_uri, scopes=_SCOPES)
        if method == "oauth":
            import google.auth

            return google.auth.default(scopes=list(_SCOPES))[0]
        raise FeatsqlError(f"bigquery profile: method '{method}' is not supported by featsql")

    @property
    def client(self):
        if self._client is None:
            bigquery = _bigquery()
            project = getattr(self.credentials, "execution_project", None) or self.project
            self._client = bigquery.Client(project=project, credentials=self._google_credentials(),
                                           location=getattr(self.credentials, "location", None))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _job_config(self):
        bigquery = _bigquery()
        config = bigquery.QueryJobConfig(default_dataset=f"{self.project}.{self.dataset}")
        limit = getattr(self.credentials, "maximum_bytes_billed", None)
        if limit:
            config.maximum_bytes_billed = int(limit)
        return config

    def _query(self, sql: str):
        timeout = getattr(self.credentials, "job_execution_timeout_seconds", None)
        return self.client.query(sql, job_config=self._job_config(), timeout=timeout)

    # -- catalog -------------------------------------------------------------------------------
    def columns(self, relation: Relation) -> dict[str, str] | None:
        """The table's schema from the API (no query, no bytes billed)."""
        from google.api_core.exceptions import NotFound

        ref = ".".join([relation.database or self.project, relation.schema_name or self.dataset,
                        relation.identifier])
        try:
            schema = self.client.get_table(ref).schema
        except NotFound:
            return None
        return {f.name: f.field_type for f in schema} or None

    # -- queries -------------------------------------------------------------------------------
    def execute(self, sql: str) -> None:
        self._query(sql).result()

    def query_arrow(self, sql: str) -> pa.Table:
        return self._query(sql).to_arrow()

    def stream(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        rows = self._query(sql).result(page_size=batch_rows)
        for batch in rows.to_arrow_iterable():
            yield from batch.to_batches(max_chunksize=batch_rows) if isinstance(batch, pa.Table) else [batch]

    # -- uploads -------------------------------------------------------------------------------
    def upload(self, name: str, data: pa.Table) -> exp.Table:
        """A load job (Parquet) into `dataset.name`, created with an expiry, typed from Arrow."""
        import pyarrow.parquet as pq

        bigquery = _bigquery()
        ref = f"{self.project}.{self.dataset}.{name}"
        schema = [bigquery.SchemaField(f.name, self.sql_type(f.type).sql(dialect=self.dialect))
                  for f in data.schema]
        created = bigquery.Table(ref, schema=schema)
        created.expires = dt.datetime.now(dt.timezone.utc) + UPLOAD_EXPIRY
        self.client.create_table(created)
        buffer = io.BytesIO()
        pq.write_table(data, buffer, coerce_timestamps="us", allow_truncated_timestamps=True)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, schema=schema,
                                        write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        self.client.load_table_from_file(buffer, ref, job_config=config).result()
        return table(name)  # found through the queries' default dataset

    def key_partition(self, keys: list[exp.Expression], n: int) -> exp.Expression:
        from featsql.offline.base import _non_negative_mod

        packed = exp.Anonymous(this="TO_JSON_STRING", expressions=[exp.Struct(expressions=keys)])
        return _non_negative_mod(exp.Anonymous(this="FARM_FINGERPRINT", expressions=[packed]), n)

    def epoch_us(self, value: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(value, "TIMESTAMP", dialect="bigquery")])

    def drop_upload(self, uploaded: exp.Table) -> None:
        self.client.delete_table(f"{self.project}.{self.dataset}.{uploaded.name}", not_found_ok=True)
