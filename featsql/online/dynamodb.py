"""DynamoDB: one table per view (`{project}.{view}` by default), one item per entity.

Item: `k` (the entity key, codec.encode_key), `e`/`c` (event and created time, UTC micros),
`f` (the view's feature-layout fingerprint) and `v` (the features as one msgpack binary, the
same encoding as Redis: one attribute to decode, not one typed attribute per feature); `p` is
true on a value written by push instead of materialization.

The newer-than rule is atomic per item: a BatchGetItem of the stored versions (100 keys per call)
skips what is surely older, then TransactWriteItems writes the rest, 100 conditional puts per call
(`NEWER` below: the stored (event, created) is older, or the layout changed); a cancelled
transaction drops the items whose condition failed (a newer value is there) and sends the others
again, with exponential backoff. So two materializations racing on one key leave the newer value.
(Transactional writes cost twice the write capacity of plain ones.) Reads are BatchGetItem across
every view's table in one call (100 keys per call; more keys take more calls).
"""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from typing import Any, Iterator

import msgpack

from featsql.definitions import FeatureView
from featsql.errors import FeatsqlError
from featsql.online.base import Lookup, OnlineStore, Record
from featsql.online.codec import Rows, encode_key, fingerprint

TRANSACT_CHUNK, READ_CHUNK = 100, 100  # DynamoDB's limits per TransactWriteItems / BatchGetItem
NEWER = "attribute_not_exists(k) OR e < :e OR (e = :e AND c < :c) OR (e = :e AND c = :c AND f <> :f)"
MAX_ATTEMPTS = 8


class DynamoOnlineStore(OnlineStore):
    # Each batch is many small HTTP calls: several in flight hide the latency.
    max_in_flight = 4
    batch_rows = 5_000

    def __init__(self, config: Any):
        super().__init__(config)
        self.region = self.store_config.region
        self.endpoint_url = self.store_config.endpoint_url
        self.template = self.store_config.table_name_template
        self._client: Any = None

    @property
    def location(self) -> str:
        return f"dynamodb at {self.endpoint_url or self.region}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "dynamodb", region_name=self.region, endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16,
                              connect_timeout=3, read_timeout=30))
        return self._client

    def table_name(self, view: FeatureView) -> str:
        return self.template.format(project=self.project, view=view.name)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        try:
            yield
        except EndpointConnectionError as e:
            raise FeatsqlError(f"{self.location} is unreachable: {e}") from None
        except NoCredentialsError:
            raise FeatsqlError(f"{self.location}: no AWS credentials found") from None
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise FeatsqlError(f"{self.location}: {e.response['Error'].get('Message', e)};"
                                   " run `featsql apply` first") from None
            raise

    # -- apply / teardown ------------------------------------------------------------------------
    def ping(self) -> None:
        with self._errors():
            self.client.list_tables(Limit=1)

    def _existing(self) -> set[str]:
        names: set[str] = set()
        for page in self.client.get_paginator("list_tables").paginate():
            names.update(page["TableNames"])
        return names

    def create(self, views: list[FeatureView]) -> list[str]:
        created = []
        with self._errors():
            existing = self._existing()
            for view in views:
                name = self.table_name(view)
                if name in existing:
                    continue
                self.client.create_table(
                    TableName=name, BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
                created.append(name)
            for name in created:
                self.client.get_waiter("table_exists").wait(TableName=name,
                                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return created

    def drop(self, views: list[FeatureView]) -> list[str]:
        dropped = []
        with self._errors():
            existing = self._existing()
            for view in views:
                name = self.table_name(view)
                if name in existing:
                    self.client.delete_table(TableName=name)
                    dropped.append(name)
        return dropped

    # -- watermark markers: an item in the view's table under a key no entity encodes to -------
    _MARKER = "__featsql_marker__"

    @property
    def identity(self) -> str:
        return f"dynamodb:{self.endpoint_url or self.region}:{self.template.format(project=self.project, view='*')}"

    def has_marker(self, view: FeatureView) -> bool:
        from botocore.exceptions import ClientError

        try:
            item = self.client.get_item(TableName=self.table_name(view), Key={"k": {"S": self._MARKER}},
                                        ConsistentRead=True).get("Item")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return item is not None

    def set_marker(self, view: FeatureView) -> None:
        with self._errors():
            self.client.put_item(TableName=self.table_name(view), Item={"k": {"S": self._MARKER}})

    # -- writes ----------------------------------------------------------------------------------
    def write(self, view: FeatureView, rows: Rows) -> int:
        table, fp, names = self.table_name(view), fingerprint(view), view.join_keys
        newest: dict[str, int] = {}
        for i, (key, e, c) in enumerate(zip(rows.keys, rows.event_ts, rows.created_ts)):
            k = encode_key(names, key)
            j = newest.get(k)
            if j is None or (e, c) > (rows.event_ts[j], rows.created_ts[j]):
                newest[k] = i  # BatchWriteItem rejects duplicate keys in one request
        with self._errors():
            stored = self._versions(table, list(newest))
            puts = []
            for k, i in newest.items():
                e, c = rows.event_ts[i], rows.created_ts[i]
                old = stored.get(k)
                if old is not None and ((e, c) < old[:2] or ((e, c) == old[:2] and old[2] == fp)):
                    continue  # the store holds a newer (or the same) value
                item = {"k": {"S": k}, "e": {"N": str(e)}, "c": {"N": str(c)}, "f": {"N": str(fp)},
                        "v": {"B": msgpack.packb(rows.values(i))}}
                if rows.pushed:
                    item["p"] = {"BOOL": True}  # written by push, not by materialization
                puts.append(item)
            # The read above only skips what is surely older; the write itself is conditional,
            # so two writers racing on one key still leave the newer value (atomic per item).
            for start in range(0, len(puts), TRANSACT_CHUNK):
                self._write_newer(table, puts[start:start + TRANSACT_CHUNK])
        return len(rows)

    def _write_newer(self, table: str, items: list[dict]) -> None:
        """TransactWriteItems of conditional puts: each lands only if the stored (event, created)
        is older (or the layout fingerprint differs). A cancelled transaction writes nothing and
        names each item's reason: the items that lost their condition are dropped (a newer value
        is stored), the rest are sent again."""
        from botocore.exceptions import ClientError

        pending = items
        for attempt in range(MAX_ATTEMPTS):
            if not pending:
                return
            try:
                self.client.transact_write_items(TransactItems=[{"Put": {
                    "TableName": table, "Item": item, "ConditionExpression": NEWER,
                    "ExpressionAttributeValues": {":e": item["e"], ":c": item["c"], ":f": item["f"]}}}
                    for item in pending])
                return
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = e.response.get("CancellationReasons") or []
                if len(reasons) != len(pending):
                    time.sleep(_backoff(attempt))
                    continue
                pending = [item for item, r in zip(pending, reasons)
                           if r.get("Code") not in ("ConditionalCheckFailed",)]
                if any(r.get("Code") not in ("None", "ConditionalCheckFailed") for r in reasons):
                    time.sleep(_backoff(attempt))  # conflicts or throttling: try again
        if pending:
            raise FeatsqlError(f"{self.location}: {len(pending)} items still unwritten after"
                               f" {MAX_ATTEMPTS} TransactWriteItems attempts on {table} (contended?)")

    def _versions(self, table: str, keys: list[str]) -> dict[str, tuple[int, int, int]]:
        out: dict[str, tuple[int, int, int]] = {}
        for start in range(0, len(keys), READ_CHUNK):
            request = {table: {"Keys": [{"k": {"S": k}} for k in keys[start:start + READ_CHUNK]],
                               "ProjectionExpression": "k, e, c, f"}}
            for item in self._batch_get(request).get(table, []):
                out[item["k"]["S"]] = (int(item["e"]["N"]), int(item["c"]["N"]), int(item["f"]["N"]))
        return out

    def _batch_get(self, request: dict) -> dict[str, list[dict]]:
        """BatchGetItem with UnprocessedKeys retried; items per table."""
        got: dict[str, list[dict]] = {}
        for attempt in range(MAX_ATTEMPTS):
            reply = self.client.batch_get_item(RequestItems=request)
            for table, items in reply.get("Responses", {}).items():
                got.setdefault(table, []).extend(items)
            request = reply.get("UnprocessedKeys") or {}
            if not request:
                return got
            time.sleep(_backoff(attempt))
        raise FeatsqlError(f"{self.location}: keys still unprocessed after {MAX_ATTEMPTS}"
                           " BatchGetItem attempts (throttled?)")

    # -- reads -----------------------------------------------------------------------------------
    def read(self, lookups: list[Lookup]) -> list[list[Record | None]]:
        encoded = [[encode_key(view.join_keys, k) for k in keys] for view, keys in lookups]
        wanted: list[tuple[str, str]] = list(dict.fromkeys(
            (self.table_name(view), k) for (view, _), ks in zip(lookups, encoded) for k in ks))
        items: dict[tuple[str, str], dict] = {}
        with self._errors():
            for start in range(0, len(wanted), READ_CHUNK):
                request: dict[str, dict] = {}
                for table, k in wanted[start:start + READ_CHUNK]:
                    request.setdefault(table, {"Keys": [], "ProjectionExpression": "k, e, f, v"})
                    request[table]["Keys"].append({"k": {"S": k}})
                for table, found in self._batch_get(request).items():
                    for item in found:
                        items[(table, item["k"]["S"])] = item
        out = []
        for (view, _), ks in zip(lookups, encoded):
            table, fp = self.table_name(view), fingerprint(view)
            records: list[Record | None] = []
            for k in ks:
                item = items.get((table, k))
                if item is None or int(item["f"]["N"]) != fp:
                    records.append(None)
                else:
                    records.append((int(item["e"]["N"]), msgpack.unpackb(item["v"]["B"])))
            out.append(records)
        return out

    def close(self) -> None:
        self._client = None


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 50 ms, 100 ms, 200 ms, ... capped at 5 s."""
    return random.uniform(0, min(5.0, 0.05 * 2 ** attempt))
