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
            if "--debug" in sys.argv[1:]:
                raise
            from featsql.errors import FeatsqlError

            msg = str(e) if isinstance(e, FeatsqlError) else f"{type(e).__name__}: {e}"
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


def _templates() -> list[str]:
    from featsql.scaffold import template_dirs

    return sorted(template_dirs())


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


@main.command()
@click.pass_obj
def teardown(obj: _Ctx) -> None:
    """Remove what apply created: online tables and the registry."""
    for line in obj.store().teardown().lines():
        click.echo(line)


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
