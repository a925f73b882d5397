"""The `featsql` command: a thin layer over FeatureStore. Errors are one line unless --debug."""
from __future__ import annotations

import json
import sys
from typing import Any

import click


class _Ctx:
    def __init__(self, config_path: str | None, debug: bool):
        self.config_path = config_path
        self.debug = debug

    def store(self):
        from featsql.store import FeatureStore

        return FeatureStore(repo_path=".", config_path=self.config_path)


class _Group(click.Group):
    """Turns every exception into one line on stderr and exit 1, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as e:  # noqa: BLE001 - the single place errors become messages
            if getattr(ctx.obj, "debug", False) or "--debug" in sys.argv[1:]:
                raise
            from featsql.errors import FeatsqlError

            # Our own errors are written to be read; anything else is squeezed onto one line.
            msg = str(e) if isinstance(e, FeatsqlError) else f"{type(e).__name__}: {e}"
            if not isinstance(e, FeatsqlError):
                msg = " ".join(msg.split())
            click.echo(f"error: {msg.strip()}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option("-f", "--config", "config_path", type=click.Path(dir_okay=False),
              help="featsql.yml to use (default: ./featsql.yml).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="featsql")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """featsql: a dbt-integrated, SQL-first feature store."""
    ctx.obj = _Ctx(config_path, debug)


@main.command()
@click.argument("name", default="feature_repo")
@click.option("-t", "--template", default="local", show_default=True,
              help="Template: local (DuckDB + SQLite).")
def init(name: str, template: str) -> None:
    """Create a runnable feature repo (a dbt project with feature views)."""
    from featsql.scaffold import init_repo

    dest = init_repo(name, template)
    click.echo(f"Created feature repo {dest}/ (template {template}). Next:\n"
               f"  cd {dest} && dbt seed --profiles-dir . && dbt run --profiles-dir . && featsql apply")


_no_parse = click.option("--no-parse", is_flag=True,
                         help="Do not run `dbt parse` when target/manifest.json is stale.")


def _print_plan(plan) -> None:
    for change in plan.effective:
        click.echo(change.line())
    if not plan.effective:
        click.echo("No changes.")


@main.command()
@_no_parse
@click.pass_obj
def plan(obj: _Ctx, no_parse: bool) -> None:
    """Show what apply would change, without writing anything."""
    p = obj.store().plan(parse=not no_parse)
    if p.macros_stale is not None:
        click.echo(f"~ dbt macros: {p.macros_stale} is out of date; apply rewrites it")
    if p.effective or p.macros_stale is None:
        _print_plan(p)
    click.echo(f"Plan: {p.summary()}.")


@main.command()
@_no_parse
@click.pass_obj
def apply(obj: _Ctx, no_parse: bool) -> None:
    """Register feature views, entities and services from dbt's manifest."""
    store = obj.store()
    p = store.apply(parse=not no_parse)
    _print_plan(p)
    click.echo(f"Applied: {p.summary()} (registry {store.registry.location}).")
    if p.macros_written is not None:
        click.echo(f"Wrote the dbt macros' SQL to {p.macros_written}.")


@main.command()
@click.pass_obj
def teardown(obj: _Ctx) -> None:
    """Remove what apply created: online tables and the registry."""
    for line in obj.store().teardown().lines():
        click.echo(line)


@main.group()
def registry() -> None:
    """The registry: move it between a file and a SQL database."""


@registry.command(name="migrate")
@click.option("--to", "url", required=True, metavar="URL",
              help="A SQL registry: postgresql://..., mysql+pymysql://..., sqlite:///path.")
@click.pass_obj
def registry_migrate(obj: _Ctx, url: str) -> None:
    """Copy the configured registry (objects and watermarks) into an empty SQL registry; then
    set `registry: URL` in featsql.yml."""
    from featsql.registry import migrate, open_registry

    if "://" not in url:
        raise click.UsageError(f"--to {url}: expected a SQL URL (postgresql://, mysql+pymysql://, sqlite:///)")
    store = obj.store()
    target = open_registry(store.config.model_copy(update={"registry": url}))  # sqlite paths: beside featsql.yml
    n = migrate(store.registry, target)
    click.echo(f"Copied {n} objects and their watermarks from {store.registry.location} to"
               f" {target.location}; set `registry: {url}` in featsql.yml.")


_KINDS = {"feature-views": "list_feature_views", "entities": "list_entities",
          "feature-services": "list_feature_services"}


@main.command(name="list")
@click.argument("kind", type=click.Choice(list(_KINDS)))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_(obj: _Ctx, kind: str, as_json: bool) -> None:
    """List registered feature views, entities or feature services."""
    items = getattr(obj.store(), _KINDS[kind])()
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    from featsql.listing import rows

    header, body = rows(kind, items)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    for r in [header, *body]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def _features_option(f):
    f = click.option("--feature-service", help="A feature service (dbt exposure of type ml).")(f)
    f = click.option("--features", help="Comma-separated view:feature references (view:* for all).")(f)
    return f


def _requested(store, features: str | None, feature_service: str | None):
    if bool(features) == bool(feature_service):
        raise click.UsageError("give exactly one of --features or --feature-service")
    if feature_service:
        return store.get_feature_service(feature_service)
    return [f.strip() for f in features.split(",") if f.strip()]


def _training_options(f):
    f = click.option("--end-date", help="With --start-date: their values as of this time.")(f)
    f = click.option("--start-date", help="Instead of --entity-sql: every entity key with rows"
                     " since this time (Feast's entity_df=None).")(f)
    f = click.option("--timestamp-column", default="event_timestamp", show_default=True,
                     help="Entity-set time column.")(f)
    f = click.option("--filter-by-created-timestamp", is_flag=True,
                     help="Ignore feature rows created after the entity time (known-at semantics).")(f)
    f = click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")(f)
    f = _features_option(f)
    f = click.option("--entity-sql",
                     help="SQL returning join keys and event_timestamp; ref()/source() allowed.")(f)
    return f


def _job(obj: _Ctx, entity_sql: str | None, features, feature_service, full_feature_names: bool,
         filter_by_created_timestamp: bool, timestamp_column: str, start_date: str | None,
         end_date: str | None, dialect: str | None = None):
    store = obj.store()
    return store.get_historical_features(
        entity_df=entity_sql, features=_requested(store, features, feature_service),
        full_feature_names=full_feature_names,
        filter_by_created_timestamp=filter_by_created_timestamp,
        timestamp_column=timestamp_column, dialect=dialect, start_date=start_date, end_date=end_date,
    )


@main.command(name="compile")
@_training_options
@click.option("--materialize", "view", metavar="VIEW",
              help="Print the latest-values query materialization runs for VIEW instead.")
@click.option("--start", help="With --materialize: the window's start (default: the oldest row).")
@click.option("--end", help="With --materialize: the window's end (default: now).")
@click.option("--dialect", help="Print for this warehouse dialect instead of the profile's "
              "(duckdb, postgres, redshift, snowflake, bigquery).")
@click.pass_obj
def compile_(obj: _Ctx, dialect: str | None, view: str | None, start: str | None,
             end: str | None, **kwargs: Any) -> None:
    """Print the training-set SQL (or, with --materialize, the latest-values SQL) the warehouse
    would run."""
    training = kwargs["entity_sql"] or kwargs["start_date"] or kwargs["end_date"]
    if bool(view) == bool(training):
        raise click.UsageError("give exactly one of --entity-sql (or --start-date/--end-date)"
                               " or --materialize VIEW")
    if view:
        click.echo(obj.store().materialization_sql(view, start, end, dialect=dialect) + ";")
        return
    if start or end:
        raise click.UsageError("--start and --end go with --materialize")
    click.echo(_job(obj, dialect=dialect, **kwargs).to_sql() + ";")


@main.command(name="training-set")
@_training_options
@click.option("--out", type=click.Path(dir_okay=False), help="Write a Parquet file.")
@click.option("--table", help="Create this table in the warehouse (CREATE TABLE AS).")
@click.pass_obj
def training_set(obj: _Ctx, out: str | None, table: str | None, **kwargs: Any) -> None:
    """Build a point-in-time correct training set in the warehouse."""
    from featsql.progress import Elapsed

    if bool(out) == bool(table):
        raise click.UsageError("give exactly one of --out or --table")
    if out and not out.endswith(".parquet"):
        raise click.UsageError(f"--out {out}: featsql writes Parquet; name the file *.parquet")
    job = _job(obj, **kwargs)
    if table:
        with Elapsed(f"creating {table}"):
            name = job.to_table(table)
        click.echo(f"Created {name}.")
        return
    import pyarrow.parquet as pq

    with Elapsed("building training set"):
        data = job.to_arrow()
    tmp = f"{out}.tmp"
    pq.write_table(data, tmp)
    import os

    os.replace(tmp, out)  # never a half-written file at `out`
    click.echo(f"Wrote {data.num_rows:,} rows x {data.num_columns} columns to {out}.")


def _views_option(f):
    return click.option("--views", "views", multiple=True, metavar="VIEW",
                        help="Only these feature views (repeat, or comma-separate).")(f)


def _view_names(views: tuple[str, ...]) -> list[str] | None:
    names = [v.strip() for item in views for v in item.split(",") if v.strip()]
    return names or None


def _shard_option(f):
    def parse(ctx: Any, param: Any, value: str | None) -> tuple[int, int] | None:
        if value is None:
            return None
        i, sep, n = value.partition("/")
        if not (sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
            raise click.BadParameter(f"'{value}': expected I/N with 0 <= I < N, e.g. 0/3")
        return int(i), int(n)
    return click.option("--shard", callback=parse, metavar="I/N",
                        help="Only partition I of N of the entities (a hash of the join keys): run"
                        " N of these (same END) to spread a view over machines; the watermark"
                        " moves when all N have finished.")(f)


@main.command()
@click.argument("start")
@click.argument("end")
@_views_option
@_shard_option
@click.pass_obj
def materialize(obj: _Ctx, start: str, end: str, views: tuple[str, ...], shard: tuple[int, int] | None) -> None:
    """Write the latest value per entity with START <= ts <= END into the online store."""
    from featsql.progress import ViewProgress

    obj.store().materialize(start, end, _view_names(views), progress=ViewProgress(), shard=shard)


@main.command(name="materialize-incremental")
@click.argument("end")
@_views_option
@_shard_option
@click.pass_obj
def materialize_incremental(obj: _Ctx, end: str, views: tuple[str, ...],
                            shard: tuple[int, int] | None) -> None:
    """Continue each view from its last materialized END (first run: its oldest row) to END."""
    from featsql.progress import ViewProgress

    obj.store().materialize_incremental(end, _view_names(views), progress=ViewProgress(), shard=shard)


def _entity_rows(args: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for arg in args:
        row = {}
        for pair in arg.split(","):
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise click.UsageError(f"entity '{arg}': expected key=value[,key=value...]")
            row[name.strip()] = value.strip()
        rows.append(row)
    # None given: one row without keys (enough for views without entities; otherwise the SDK
    # names the join keys the features need).
    return rows or [{}]


@main.command(name="get-online")
@_features_option
@click.option("--full-feature-names", is_flag=True, help="Name features view__feature.")
@click.option("--json", "as_json", is_flag=True, help="Print Feast feature-server JSON.")
@click.argument("entities", nargs=-1, metavar="KEY=VALUE[,KEY=VALUE] ...")
@click.pass_obj
def get_online(obj: _Ctx, features: str | None, feature_service: str | None,
               full_feature_names: bool, as_json: bool, entities: tuple[str, ...]) -> None:
    """Read feature values from the online store, each with its status and event time."""
    from featsql.serving import server_json, table_rows

    store = obj.store()
    resp = store.get_online_features(_requested(store, features, feature_service),
                                     _entity_rows(entities), full_feature_names=full_feature_names)
    if as_json:
        click.echo(json.dumps(server_json(resp), indent=2))
        return
    body = table_rows(resp)
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    for r in body:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=6566, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each with its own store connections).")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key.")
@click.pass_obj
def serve(obj: _Ctx, host: str, port: int, workers: int, ssl_certfile: str | None,
          ssl_keyfile: str | None) -> None:
    """Serve online features over HTTP: Feast's feature-server endpoints and JSON."""
    from featsql.server import run

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    run(obj.store(), host, port, workers=workers, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        announce=click.echo)
