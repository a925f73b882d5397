{#-
  A point-in-time correct training set inside `dbt run`:

    select * from {{ featsql.training_set(ref('labels'), ['driver_hourly_stats:conv_rate']) }}
    select * from {{ featsql.training_set(ref('labels'), 'driver_ranking_v1', full_feature_names=true) }}

  Same semantics and plan as featsql's Python compiler (DESIGN.md section 6): per requested view,
  distinct (keys, UTC time) of the entity set, one bounded scan of the view, a native ASOF join
  where the warehouse has one (duckdb, snowflake) else a sort-based window plan, joined back to
  every entity row on (keys, time). Add `-- depends_on: {{ ref('<view>') }}` to the model so dbt
  builds the feature views first.
-#}
{% macro training_set(entity, features, full_feature_names=false, timestamp_column='event_timestamp', filter_by_created_timestamp=false) %}
  {{ return(adapter.dispatch('training_set', 'featsql')(entity, features, full_feature_names, timestamp_column, filter_by_created_timestamp)) }}
{% endmacro %}

{% macro default__training_set(entity, features, full_feature_names, timestamp_column, filter_by_created_timestamp) %}
  {%- if not execute -%}{{ return('(select 1 as featsql_placeholder) as featsql_training_set') }}{%- endif -%}
  {%- if entity is none -%}
    {{ exceptions.raise_compiler_error("featsql.training_set: entity is required (a ref(), source() or relation)") }}
  {%- endif -%}
  {%- set requests = featsql._feature_requests(features) -%}
  {%- set names = [] -%}
  {%- for r in requests -%}{%- for f in r.features -%}
    {%- set out = (r.name ~ '__' ~ f) if full_feature_names else f -%}
    {%- if out in names -%}
      {{ exceptions.raise_compiler_error("featsql.training_set: feature name '" ~ f ~ "' is requested twice; pass full_feature_names=true") }}
    {%- endif -%}
    {%- do names.append(out) -%}
  {%- endfor -%}{%- endfor -%}
  {%- set ets = featsql._utc_naive('e.' ~ featsql._name(timestamp_column)) -%}
  {%- set q = adapter.quote -%}
(
with featsql_entity as (select * from {{ entity }}),
featsql_bounds as (select min({{ ets }}) as {{ q('min') }}, max({{ ets }}) as {{ q('max') }} from featsql_entity as e)
{%- for r in requests %}
{%- set i = loop.index0 %},
featsql_{{ i }}_keys as (
  select distinct
    {%- for c in r.entity_columns %} e.{{ featsql._name(c) }} as {{ q('__featsql_k' ~ loop.index0) }},{% endfor %}
    {{ ets }} as {{ q('__featsql_ts') }}
  from featsql_entity as e
),
{{ featsql.pit_view_join(i, r, filter_by_created_timestamp) }}
{%- endfor %}
select e.*
  {%- for r in requests %}{% set i = loop.index0 %}{% for f in r.features %},
  v{{ i }}.{{ q(f) }} as {{ q((r.name ~ '__' ~ f) if full_feature_names else f) }}
  {%- endfor %}{% endfor %}
from featsql_entity as e
{%- for r in requests %}{% set i = loop.index0 %}
left join featsql_{{ i }} as v{{ i }}
  on {% for c in r.entity_columns %}e.{{ featsql._name(c) }} = v{{ i }}.{{ q('__featsql_k' ~ loop.index0) }} and {% endfor %}{{ ets }} = v{{ i }}.{{ q('__featsql_ts') }}
{%- endfor %}
) as featsql_training_set
{%- endmacro %}
