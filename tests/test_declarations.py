"""Bad declarations: one clear line per problem (YAML file, model or exposure, key), a non-zero
exit without a traceback, and nothing written to the registry or the online store."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from sqlglot import exp

from featsql.declarations import build_definitions, value_type
from featsql.definitions import Relation
from featsql.errors import ValidationError
from featsql.manifest import Declared
from tests.support import edit_schema, invoke, service_meta, view_meta

SCHEMA = "models/schema.yml"
DRIVER = f"{SCHEMA}: model 'driver_hourly_stats'"
LOCATION = f"{SCHEMA}: model 'location_stats'"
SERVICE = f"{SCHEMA}: exposure 'driver_ranking_v1'"
DRIVER_TABLE = "warehouse.main.driver_hourly_stats"


def _schema(change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda repo: edit_schema(repo, change)


def _rename_key(doc: dict) -> None:
    meta = view_meta(doc, "driver_hourly_stats")
    meta["timestmap_field"] = meta.pop("timestamp_field")


def _model_without_timestamp(repo: Path) -> None:
    """A built model with no event_timestamp column and no timestamp_field."""
    import duckdb

    (repo / "models" / "driver_profile.sql").write_text(
        "select driver_id, max(conv_rate) as best_conv_rate\n"
        "from {{ ref('driver_hourly_stats') }} group by 1\n")
    with duckdb.connect(str(repo / "data" / "warehouse.duckdb")) as con:
        con.execute("create table main.driver_profile as select driver_id, max(conv_rate)"
                    " as best_conv_rate from main.driver_hourly_stats group by 1")
    edit_schema(repo, lambda doc: doc["models"].append(
        {"name": "driver_profile", "config": {"meta": {"featsql": {"entities": ["driver_id"]}}}}))


def _set_view(name: str, **values) -> Callable[[Path], None]:
    return _schema(lambda doc: view_meta(doc, name).update(values))


def _set_service_feature(i: int, value) -> Callable[[Path], None]:
    return _schema(lambda doc: service_meta(doc)["features"].__setitem__(i, value))


def _unbuilt_model(repo: Path) -> None:
    (repo / "models" / "driver_profile.sql").write_text("select 1 as driver_id\n")
    edit_schema(repo, lambda doc: doc["models"].append(
        {"name": "driver_profile", "config": {"meta": {"featsql": {"entities": ["driver_id"]}}}}))


CASES = [
    pytest.param(
        _schema(_rename_key),
        [f"{DRIVER}: featsql.timestmap_field: unknown key (did you mean 'timestamp_field'?)"],
        id="unknown-key-typo"),
    pytest.param(
        _model_without_timestamp,
        [f"{SCHEMA}: model 'driver_profile': featsql.timestamp_field: required: the model has no "
         "'event_timestamp' column to default to"],
        id="missing-timestamp-column"),
    pytest.param(
        _set_view("driver_hourly_stats", timestamp_field="event_time"),
        [f"{DRIVER}: featsql.timestamp_field: 'event_time' is not a column of {DRIVER_TABLE} "
         "(did you mean 'event_timestamp'?)"],
        id="timestamp-not-a-column"),
    pytest.param(
        _set_view("driver_hourly_stats", timestamp_field="conv_rate"),
        [f"{DRIVER}: featsql.timestamp_field: column 'conv_rate' is DOUBLE, not a timestamp"],
        id="timestamp-not-a-timestamp"),
    pytest.param(
        _set_view("driver_hourly_stats", entities=[{"name": "driver", "join_key": "driver"}]),
        [f"{DRIVER}: featsql.entities[0].join_key: 'driver' is not a column of {DRIVER_TABLE} "
         "(did you mean 'driver_id'?)"],
        id="join-key-not-a-column"),
    pytest.param(
        _set_view("driver_hourly_stats", features=["conv_rate", "acc_rte", "avg_daily_trips"]),
        [f"{DRIVER}: featsql.features[1]: 'acc_rte' is not a column of {DRIVER_TABLE} "
         "(did you mean 'acc_rate'?)"],
        id="feature-not-a-column"),
    pytest.param(
        _set_view("location_stats", entities=[{"name": "driver", "join_key": "location_id"}]),
        [f"{LOCATION}: featsql.entities: entity 'driver' has join key 'location_id' here but "
         f"'driver_id' in model 'driver_hourly_stats' ({SCHEMA})"],
        id="entity-with-two-join-keys"),
    pytest.param(
        _set_service_feature(0, "driver_hourly_stats:conv_rat"),
        [f"{SERVICE}: featsql.features[0]: 'driver_hourly_stats:conv_rat' is not a feature "
         "(did you mean 'conv_rate'?)"],
        id="exposure-unknown-feature"),
    pytest.param(
        _set_service_feature(1, "driver_stats:acc_rate"),
        [f"{SERVICE}: featsql.features[1]: unknown feature view 'driver_stats' "
         "(did you mean 'driver_hourly_stats'?)"],
        id="exposure-unknown-view"),
    pytest.param(
        _set_service_feature(2, {"view": "location_stats", "alias": "origin",
                                 "join_key_map": {"location": "origin_id"}, "features": ["avg_wiat"]}),
        [f"{SERVICE}: featsql.features[2].join_key_map: 'location' is not a join key of "
         "'location_stats' (did you mean 'location_id'?)",
         f"{SERVICE}: featsql.features[2].features: 'location_stats:avg_wiat' is not a feature "
         "(did you mean 'avg_wait'?)"],
        id="exposure-bad-projection"),
    pytest.param(
        _set_view("driver_hourly_stats", ttl="1 day"),
        [f"{DRIVER}: featsql.ttl: expected a duration like 30s, 15m, 1h, 1d, 2w or P1D, got '1 day'"],
        id="bad-duration"),
    pytest.param(
        _set_view("location_stats", online="yes please"),
        [f"{LOCATION}: featsql.online: expected true or false, got 'yes please'"],
        id="online-not-a-bool"),
    pytest.param(
        _unbuilt_model,
        [f"{SCHEMA}: model 'driver_profile': relation: warehouse.main.driver_profile does not exist"
         " in the warehouse; run `dbt run` first"],
        id="model-not-built"),
    pytest.param(
        _schema(lambda doc: (
            _rename_key(doc),
            view_meta(doc, "location_stats").update(ttl="soon"),
            service_meta(doc)["features"].__setitem__(0, "drivers:conv_rate"))),
        [f"{DRIVER}: featsql.timestmap_field: unknown key (did you mean 'timestamp_field'?)",
         f"{LOCATION}: featsql.ttl: expected a duration like 30s, 15m, 1h, 1d, 2w or P1D, got 'soon'",
         f"{SERVICE}: featsql.features[0]: unknown feature view 'drivers'"],
        id="all-problems-at-once"),
]


@pytest.mark.parametrize(("breaks", "problems"), CASES)
def test_bad_declaration(applied_repo: Path, breaks: Callable[[Path], None],
                         problems: list[str]) -> None:
    registry, online = applied_repo / "data" / "registry.json", applied_repo / "data" / "online.db"
    before = registry.read_bytes(), online.read_bytes()
    breaks(applied_repo)
    for command in ("plan", "apply"):
        result = invoke(command, cwd=applied_repo)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert result.stdout == ""
        n = len(problems)
        assert result.stderr.splitlines() == [
            f"error: {n} invalid declaration{'s' if n > 1 else ''}; nothing was written",
            *(f"  - {p}" for p in problems)]
        assert (registry.read_bytes(), online.read_bytes()) == before


def test_a_fixed_declaration_applies_again(applied_repo: Path) -> None:
    _set_view("driver_hourly_stats", ttl="1 day")(applied_repo)
    assert invoke("apply", cwd=applied_repo).exit_code == 1
    _set_view("driver_hourly_stats", ttl="P2D")(applied_repo)
    result = invoke("apply", cwd=applied_repo)
    assert result.exit_code == 0, result.output
    assert "~ feature view driver_hourly_stats: changed (ttl_seconds)" in result.stdout


def test_an_invalid_first_apply_creates_nothing(repo: Path) -> None:
    _set_view("driver_hourly_stats", features=["nope"])(repo)
    assert invoke("apply", cwd=repo).exit_code == 1
    assert not (repo / "data" / "registry.json").exists()
    assert not (repo / "data" / "online.db").exists()


# -- unit level: the rules without dbt -------------------------------------------------------------

COLUMNS = {"driver_id": "BIGINT", "Event_Timestamp": "TIMESTAMP WITH TIME ZONE",
           "conv_rate": "DOUBLE", "trips": "INTEGER", "name": "VARCHAR", "ok": "BOOLEAN",
           "day": "DATE", "amount": "DECIMAL(18,3)", "blob": "BLOB", "tags": "VARCHAR[]"}


def _declared(meta: dict, name: str = "v") -> Declared:
    return Declared(name=name, unique_id=f"model.p.{name}", yaml_file="models/v.yml", meta=meta,
                    relation=("db", "main", name), column_docs={"trips": "trips per day"})


def _build(*metas: dict, services: tuple = ()):
    def columns_of(relation: Relation) -> dict[str, str] | None:
        return None if relation.identifier == "missing_latest" else COLUMNS

    return build_definitions([_declared(m, f"v{i}") for i, m in enumerate(metas)], list(services),
                             columns_of, lambda t: exp.DataType.build(t, dialect="duckdb"))


def test_shorthand_entities_and_default_features() -> None:
    defs = _build({"entities": ["driver_id"]})
    view = defs.feature_views["v0"]
    assert [(e.name, e.join_key) for e in view.entities] == [("driver_id", "driver_id")]
    # the timestamp defaults to event_timestamp, matched case-insensitively to the real name
    assert view.timestamp_field == "Event_Timestamp"
    assert [f.name for f in view.features] == ["conv_rate", "trips", "name", "ok", "day", "amount",
                                               "blob", "tags"]
    assert [f.dtype for f in view.features] == ["float", "int", "string", "bool", "date",
                                                "decimal", "bytes", "other"]
    assert view.feature("trips").description == "trips per day"
    assert view.online is True and view.ttl is None
    assert defs.entities["driver_id"].join_key == "driver_id"


def test_ttl_zero_means_no_limit_and_iso_durations_parse() -> None:
    defs = _build({"entities": ["driver_id"], "ttl": 0}, {"entities": ["driver_id"], "ttl": "PT90M"})
    assert defs.feature_views["v0"].ttl_seconds is None
    assert defs.feature_views["v1"].ttl_seconds == 5400


def test_entities_are_required() -> None:
    with pytest.raises(ValidationError) as err:
        _build({"timestamp_field": "Event_Timestamp"})
    assert err.value.problems == [
        "models/v.yml: model 'v0': featsql.entities: required: a list of entities or join keys"
        " ([] for a view whose rows apply to every entity)"]


def test_entity_less_view() -> None:
    """`entities: []` declares a global view: no join key, every non-time column a feature."""
    view = _build({"entities": []}).feature_views["v0"]
    assert view.join_keys == [] and view.entities == ()
    assert "driver_id" in [f.name for f in view.features]


def test_a_service_with_star_and_a_repeated_view_without_alias() -> None:
    svc = Declared(name="svc", unique_id="exposure.p.svc", yaml_file="models/x.yml",
                   meta={"features": ["v0:*", {"view": "v0", "features": ["trips"]}]})
    with pytest.raises(ValidationError) as err:
        _build({"entities": ["driver_id"]}, services=(svc,))
    assert err.value.problems == [
        "models/x.yml: exposure 'svc': featsql.features[1]: 'v0' is used twice; give one an alias"]


@pytest.mark.parametrize(("sql_type", "expected"), [
    ("BIGINT", "int"), ("HUGEINT", "int"), ("FLOAT", "float"), ("DOUBLE", "float"),
    ("VARCHAR", "string"), ("UUID", "string"), ("BOOLEAN", "bool"), ("DATE", "date"),
    ("TIMESTAMP", "timestamp"), ("TIMESTAMP WITH TIME ZONE", "timestamp_tz"),
    ("DECIMAL(10,2)", "decimal"), ("BLOB", "bytes"), ("STRUCT(a INT)", "other"),
])
def test_value_types_from_warehouse_types(sql_type: str, expected: str) -> None:
    assert value_type(exp.DataType.build(sql_type, dialect="duckdb")) == expected



def _problems(*metas: dict) -> list[str]:
    with pytest.raises(ValidationError) as err:
        _build(*metas)
    return err.value.problems


def test_a_date_timestamp_needs_an_offset() -> None:
    """A DATE event time would leak the whole day into that day's entity rows: refused, naming
    the fix; with timestamp_offset the row is known at day + offset."""
    assert _problems({"entities": ["driver_id"], "timestamp_field": "day"}) == [
        "models/v.yml: model 'v0': featsql.timestamp_field: column 'day' is DATE: a row stamped"
        " with its day would be visible from 00:00 that day, before the day's data existed; say"
        " when a row becomes known with featsql.timestamp_offset (1d for a daily aggregate"
        " stamped with its day)"]
    view = _build({"entities": ["driver_id"], "timestamp_field": "day",
                   "timestamp_offset": "1d"}).feature_views["v0"]
    assert (view.timestamp_dtype, view.timestamp_offset_seconds) == ("date", 86400)
    assert _problems({"entities": ["driver_id"], "timestamp_field": "name"}) == [
        "models/v.yml: model 'v0': featsql.timestamp_field: column 'name' is VARCHAR, not a timestamp"]
    assert _problems({"entities": ["driver_id"], "created_timestamp_field": "day"}) == [
        "models/v.yml: model 'v0': featsql.created_timestamp_field: column 'day' is DATE, not a"
        " timestamp"]


@pytest.mark.parametrize(("key", "value"), [("ttl", 1.5), ("ttl", "PT0.5S"),
                                            ("timestamp_offset", "PT1.5S")])
def test_a_fraction_of_a_second_is_refused(key: str, value: object) -> None:
    assert _problems({"entities": ["driver_id"], key: value}) == [
        f"models/v.yml: model 'v0': featsql.{key}: {value!r} is not a whole number of seconds"]


def test_a_feature_listed_twice_and_a_missing_latest_table() -> None:
    assert _problems({"entities": ["driver_id"], "features": ["trips", "conv_rate", "trips"],
                      "latest_table": "missing_latest"}) == [
        "models/v.yml: model 'v0': featsql.features[2]: 'trips' is listed twice",
        "models/v.yml: model 'v0': featsql.latest_table: db.main.missing_latest does not exist in"
        " the warehouse; build it with the featsql.latest_values macro (dbt run) first"]


def test_types_are_decided_once_at_apply() -> None:
    """Logical types with the decimal policy, zone awareness and key types on the view."""
    view = _build({"entities": ["driver_id"]}).feature_views["v0"]
    amount = view.feature("amount")
    assert (amount.dtype, amount.precision, amount.scale, amount.kind) == ("decimal", 18, 3, "float")
    assert view.timestamp_dtype == "timestamp_tz"
    assert (view.join_key_types, view.join_key_sql_types) == (("int",), ("BIGINT",))


@pytest.mark.parametrize(("dialect", "sql_type", "kind"), [
    ("snowflake", "NUMBER(38,0)", "int"), ("snowflake", "NUMBER", "int"),
    ("snowflake", "NUMBER(10,2)", "float"), ("snowflake", "TIMESTAMP_LTZ", "timestamp_tz"),
    ("snowflake", "TIMESTAMP_NTZ", "timestamp"), ("bigquery", "TIMESTAMP", "timestamp_tz"),
    ("bigquery", "DATETIME", "timestamp"), ("bigquery", "NUMERIC", "float"),
    ("bigquery", "INT64", "int"), ("postgres", "numeric(12,0)", "int"),
    ("postgres", "numeric", "float"), ("postgres", "timestamp with time zone", "timestamp_tz"),
    ("redshift", "numeric(10,2)", "float"), ("duckdb", "HUGEINT", "int"),
])
def test_kinds_per_warehouse(dialect: str, sql_type: str, kind: str) -> None:
    from featsql.types import kind_of, logical_type

    dtype, _, scale = logical_type(exp.DataType.build(sql_type, dialect=dialect))
    assert kind_of(dtype, scale) == kind
