{#- featsql.latest_values(view, start=none, end=none): the latest row per entity of a feature view.

    Keep a latest-values table current from any dbt schedule; name it in the view's meta
    (`latest_table: ...`) and materialization only unloads the rows that changed since its
    watermark, with no window over the history.

        -- models/driver_hourly_stats_latest.sql
        select * from {{ featsql.latest_values('driver_hourly_stats') }}

    view    the feature view: its name, or its ref()
    start   optional SQL expressions bounding the time a row becomes known (inclusive),
    end     e.g. end="current_timestamp"; naive times are UTC (needs a UTC session for zones)

    Per entity: the greatest event time inside the bounds, then the greatest created time, the
    rule `featsql materialize` applies, compiled by featsql (macros/featsql_compiled.sql); the
    rows keep the view's join keys, time columns and features. -#}
{% macro latest_values(view, start=none, end=none) %}
  {%- set state = featsql._state() -%}
  {%- if view is string -%}
    {%- set name = view -%}
  {%- elif view is none or view.identifier is not defined -%}
    {{ exceptions.raise_compiler_error("featsql.latest_values: view must be a feature view's name or ref(), got " ~ view) }}
  {%- else -%}
    {%- set identifier = (view.identifier or '') | lower -%}
    {%- set name = (state or {}).get('relations', {}).get(identifier) or identifier.replace('__dbt__cte__', '') -%}
  {%- endif -%}
  {%- set compiled = featsql._compiled('featsql_latest__' ~ (name if modules.re.fullmatch('[A-Za-z0-9_]+', name) else local_md5(name)[:16]),
                                       "featsql.latest_values('" ~ name ~ "')") -%}
  {%- if compiled is none -%}{{ return('(select 1 as featsql_placeholder) as featsql_latest') }}{%- endif -%}
  {{ return(compiled(start, end)) }}
{% endmacro %}
