{#- featsql.latest_values(relation, ...): the latest row per entity of a feature view.

    Use it in a dbt model (or any warehouse schedule) to keep a latest-values table current;
    name that table in the view's meta (`latest_table: ...`) and featsql materialization then
    only unloads the rows that changed since its watermark, with no window over the history.

        -- models/driver_hourly_stats_latest.sql
        select * from {{ featsql.latest_values(ref('driver_hourly_stats')) }}

    Arguments (all but relation optional; by default read from the model's featsql meta):
      relation                 ref() or source() of the feature view
      join_keys                list of key columns (or one name)
      timestamp_field          event time column (default: meta, else event_timestamp)
      created_timestamp_field  tie-breaker column (default: meta; none for no tie-breaker)
      start, end               optional SQL expressions bounding the event time (inclusive),
                               e.g. end="current_timestamp"

    Per entity: the greatest event time inside the bounds, then the greatest created time —
    the same rule (and columns: every column of the relation) as `featsql materialize`. -#}
{% macro latest_values(relation, join_keys=none, timestamp_field=none, created_timestamp_field=none,
                       start=none, end=none) %}
  {{ return(adapter.dispatch('latest_values', 'featsql')(relation, join_keys, timestamp_field,
                                                         created_timestamp_field, start, end)) }}
{% endmacro %}


{#- Window form: every warehouse has ROW_NUMBER; the rank column is dropped outside. -#}
{% macro default__latest_values(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {%- set s = featsql._latest_spec(relation, join_keys, timestamp_field, created_timestamp_field, start, end) -%}
  {%- if s is none -%}{{ return("(select * from " ~ relation ~ ") as _featsql_latest") }}{%- endif -%}
  {%- set columns = [] -%}
  {%- for c in adapter.get_columns_in_relation(relation) -%}{%- do columns.append(adapter.quote(c.name)) -%}{%- endfor -%}
  {%- set sql -%}
(select {{ columns | join(', ') }}
 from (select *, row_number() over (partition by {{ s.partition | join(', ') }} order by {{ s.order | join(', ') }}) as _featsql_rn
       from {{ relation }}
       where {{ s.where | join(' and ') }}) as _featsql_ranked
 where _featsql_rn = 1) as _featsql_latest
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}


{#- QUALIFY filters on the window directly: no subquery, no rank column to drop. -#}
{% macro _latest_values_qualify(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {%- set s = featsql._latest_spec(relation, join_keys, timestamp_field, created_timestamp_field, start, end) -%}
  {%- if s is none -%}{{ return("(select * from " ~ relation ~ ") as _featsql_latest") }}{%- endif -%}
  {%- set sql -%}
(select * from {{ relation }}
 where {{ s.where | join(' and ') }}
 qualify row_number() over (partition by {{ s.partition | join(', ') }} order by {{ s.order | join(', ') }}) = 1) as _featsql_latest
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}

{#- DuckDB has QUALIFY. -#}
{% macro duckdb__latest_values(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {{ return(featsql._latest_values_qualify(relation, join_keys, timestamp_field, created_timestamp_field, start, end)) }}
{% endmacro %}

{#- Snowflake has QUALIFY. -#}
{% macro snowflake__latest_values(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {{ return(featsql._latest_values_qualify(relation, join_keys, timestamp_field, created_timestamp_field, start, end)) }}
{% endmacro %}

{#- PostgreSQL has no QUALIFY but DISTINCT ON: the first row per key in ORDER BY order, one sort. -#}
{% macro postgres__latest_values(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {%- set s = featsql._latest_spec(relation, join_keys, timestamp_field, created_timestamp_field, start, end) -%}
  {%- if s is none -%}{{ return("(select * from " ~ relation ~ ") as _featsql_latest") }}{%- endif -%}
  {%- set sql -%}
(select distinct on ({{ s.partition | join(', ') }}) * from {{ relation }}
 where {{ s.where | join(' and ') }}
 order by {{ (s.partition + s.order) | join(', ') }}) as _featsql_latest
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}


{#- Checked arguments, with defaults from the model's featsql meta: quoted keys, ORDER BY and
    WHERE parts. None while dbt parses (no graph, no columns yet). -#}
{% macro _latest_spec(relation, join_keys, timestamp_field, created_timestamp_field, start, end) %}
  {%- if relation is string or relation is none or relation.identifier is not defined -%}
    {{ exceptions.raise_compiler_error("featsql.latest_values: relation must be a ref() or source(), got " ~ relation) }}
  {%- endif -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set meta = featsql._featsql_meta_of(relation) -%}
  {%- if join_keys is none -%}
    {%- if meta is none -%}
      {{ exceptions.raise_compiler_error("featsql.latest_values: join_keys is required: " ~ relation ~ " is not a featsql feature view (no featsql meta)") }}
    {%- endif -%}
    {%- set join_keys = [] -%}
    {%- for e in meta.get('entities', []) -%}
      {%- do join_keys.append(e if e is string else (e.get('join_key') or e.name)) -%}
    {%- endfor -%}
  {%- elif join_keys is string -%}
    {%- set join_keys = [join_keys] -%}
  {%- endif -%}
  {%- if join_keys is not iterable or join_keys is mapping or join_keys | length == 0 -%}
    {{ exceptions.raise_compiler_error("featsql.latest_values: join_keys must be a non-empty list of column names, got " ~ join_keys) }}
  {%- endif -%}
  {%- if timestamp_field is none -%}
    {%- set timestamp_field = (meta or {}).get('timestamp_field', 'event_timestamp') -%}
  {%- endif -%}
  {%- if timestamp_field is not string -%}
    {{ exceptions.raise_compiler_error("featsql.latest_values: timestamp_field must be a column name, got " ~ timestamp_field) }}
  {%- endif -%}
  {%- if created_timestamp_field is none -%}
    {%- set created_timestamp_field = (meta or {}).get('created_timestamp_field') -%}
  {%- endif -%}
  {%- set names = [] -%}
  {%- for c in adapter.get_columns_in_relation(relation) -%}{%- do names.append(c.name | lower) -%}{%- endfor -%}
  {%- for c in join_keys + [timestamp_field] + ([created_timestamp_field] if created_timestamp_field else []) -%}
    {%- if c | lower not in names -%}
      {{ exceptions.raise_compiler_error("featsql.latest_values: '" ~ c ~ "' is not a column of " ~ relation ~ " (columns: " ~ names | join(', ') ~ ")") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set keys = [] -%}
  {%- set where = [] -%}
  {%- for k in join_keys -%}
    {%- do keys.append(adapter.quote(k)) -%}
    {%- do where.append(adapter.quote(k) ~ " is not null") -%}
  {%- endfor -%}
  {%- set ts = adapter.quote(timestamp_field) -%}
  {%- set order = [ts ~ " desc nulls last"] -%}
  {%- if created_timestamp_field -%}{%- do order.append(adapter.quote(created_timestamp_field) ~ " desc nulls last") -%}{%- endif -%}
  {%- if start is not none -%}{%- do where.append(ts ~ " >= " ~ start) -%}{%- endif -%}
  {%- if end is not none -%}{%- do where.append(ts ~ " <= " ~ end) -%}{%- endif -%}
  {{ return({'partition': keys, 'order': order, 'where': where}) }}
{% endmacro %}


{#- The featsql meta of the model built as `relation`, or none. -#}
{% macro _featsql_meta_of(relation) %}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
    {%- if (node.alias or node.name) | lower == relation.identifier | lower
          and (node.schema | lower == (relation.schema or node.schema) | lower) -%}
      {%- set meta = (node.config.meta or {}).get('featsql') or (node.meta or {}).get('featsql') -%}
      {%- if meta is mapping -%}{{ return(meta) }}{%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}
