{#- The per-view step of featsql.training_set: featsql_<i>_rows (one bounded scan) and featsql_<i>
    (one row per distinct entity (keys, time) with the chosen values). -#}
{% macro pit_view_join(i, r, filter_by_created_timestamp=false) %}
  {%- if filter_by_created_timestamp and r.created -%}{{ return(featsql._pit_known_at(i, r)) }}{%- endif -%}
  {{ return(adapter.dispatch('pit_view_join', 'featsql')(i, r)) }}
{% endmacro %}

{% macro _pit_rows(i, r, dedup, known_at=false) %}
  {%- set q = adapter.quote -%}
  {%- set fts = featsql._utc_naive('f.' ~ featsql._name(r.ts)) -%}
  {%- set created = featsql._utc_naive('f.' ~ featsql._name(r.created)) if r.created else none -%}
featsql_{{ i }}_rows as (
  select
    {%- for k in r['keys'] %} f.{{ featsql._name(k) }} as {{ q('__featsql_k' ~ loop.index0) }},{% endfor %}
    {{ fts }} as {{ q('__featsql_fts') }},
    {%- if created %} {{ created }} as {{ q('__featsql_created') }},{% endif %}
    {%- if known_at %} greatest({{ fts }}, {{ created }}) as {{ q('__featsql_avail') }},
    {{ featsql._sortable(fts) }} || {{ featsql._sortable(created) }} as {{ q('__featsql_rank') }},{% endif %}
    {%- for f in r.features %} f.{{ featsql._name(f) }} as {{ q(f) }}{{ ',' if not loop.last }}{% endfor %}
  from {{ r.relation }} as f
  where {{ fts }} <= (select {{ q('max') }} from featsql_bounds)
    {%- if known_at %} and {{ created }} <= (select {{ q('max') }} from featsql_bounds){% endif %}
    {%- if r.ttl_seconds %}
    and {{ fts }} >= {{ featsql._minus_seconds('(select ' ~ q('min') ~ ' from featsql_bounds)', r.ttl_seconds) }}
    {%- endif %}
    {%- for k in r['keys'] %} and f.{{ featsql._name(k) }} is not null{% endfor %}
  {%- if dedup %}
  qualify row_number() over (
    partition by {% for k in r['keys'] %}f.{{ featsql._name(k) }}, {% endfor %}{{ fts }}
    order by {% if created %}{{ created }} desc nulls last, {% endif %}{% for f in r.features %}f.{{ featsql._name(f) }} desc nulls last{{ ', ' if not loop.last }}{% endfor %}
  ) = 1
  {%- endif %}
)
{%- endmacro %}

{% macro _pit_guarded(r, alias, ts, fts) %}
  {%- set q = adapter.quote -%}
  {%- set out = [] -%}
  {%- for f in r.features -%}
    {%- if r.ttl_seconds -%}
      {%- do out.append("case when " ~ fts ~ " >= " ~ featsql._minus_seconds(ts, r.ttl_seconds) ~ " then " ~ alias ~ "." ~ q(f) ~ " end as " ~ q(f)) -%}
    {%- else -%}
      {%- do out.append(alias ~ "." ~ q(f) ~ " as " ~ q(f)) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(out | join(', ')) }}
{% endmacro %}

{#- DuckDB: native ASOF LEFT JOIN whose inequality compares STRUCTs (time, created, content
    hash): the latest time, then the latest created, then a content-determined row among exact
    duplicates, with no window over the scan. The ttl is applied after the join, never in WHERE. -#}
{% macro duckdb__pit_view_join(i, r) %}
  {%- set q = adapter.quote -%}
{{ featsql._pit_rows(i, r, false) }},
featsql_{{ i }}_order as (
  select *, {'t': {{ q('__featsql_ts') }}{% if r.created %}, 'c': cast('infinity' as timestamp){% endif %}, 'h': cast(18446744073709551615 as ubigint)} as {{ q('__featsql_order') }}
  from featsql_{{ i }}_keys
),
featsql_{{ i }} as (
  select {% for k in r['keys'] %}k.{{ q('__featsql_k' ~ loop.index0) }}, {% endfor %}k.{{ q('__featsql_ts') }},
    {{ featsql._pit_guarded(r, 'r', 'k.' ~ q('__featsql_ts'), 'r.' ~ q('__featsql_fts')) }}
  from featsql_{{ i }}_order as k
  asof left join (
    select *, {'t': {{ q('__featsql_fts') }}{% if r.created %}, 'c': coalesce({{ q('__featsql_created') }}, cast('-infinity' as timestamp)){% endif %}, 'h': hash({% for f in r.features %}{{ q(f) }}{{ ', ' if not loop.last }}{% endfor %})} as {{ q('__featsql_order') }}
    from featsql_{{ i }}_rows
  ) as r
    on {% for k in r['keys'] %}k.{{ q('__featsql_k' ~ loop.index0) }} = r.{{ q('__featsql_k' ~ loop.index0) }} and {% endfor %}k.{{ q('__featsql_order') }} >= r.{{ q('__featsql_order') }}
)
{%- endmacro %}

{#- Snowflake: ASOF JOIN ... MATCH_CONDITION (outer by definition). -#}
{% macro snowflake__pit_view_join(i, r) %}
  {%- set q = adapter.quote -%}
{{ featsql._pit_rows(i, r, true) }},
featsql_{{ i }} as (
  select {% for k in r['keys'] %}k.{{ q('__featsql_k' ~ loop.index0) }}, {% endfor %}k.{{ q('__featsql_ts') }},
    {{ featsql._pit_guarded(r, 'r', 'k.' ~ q('__featsql_ts'), 'r.' ~ q('__featsql_fts')) }}
  from featsql_{{ i }}_keys as k
  asof join featsql_{{ i }}_rows as r
    match_condition (k.{{ q('__featsql_ts') }} >= r.{{ q('__featsql_fts') }})
    on {% for k in r['keys'] %}k.{{ q('__featsql_k' ~ loop.index0) }} = r.{{ q('__featsql_k' ~ loop.index0) }}{{ ' and ' if not loop.last }}{% endfor %}
)
{%- endmacro %}

{#- Elsewhere (PostgreSQL, Redshift, BigQuery): a sort-based plan. grp counts feature rows up to
    each row (features before entities at equal time, then by created and values), so an entity
    row shares grp with exactly the last feature row at or before it; FIRST_VALUE reads it. -#}
{% macro default__pit_view_join(i, r) %}
  {%- set q = adapter.quote -%}
  {%- set keys = [] -%}{%- for k in r['keys'] -%}{%- do keys.append(q('__featsql_k' ~ loop.index0)) -%}{%- endfor -%}
  {%- set w = 'partition by ' ~ (keys | join(', ')) ~ ', ' ~ q('__featsql_grp') ~ ' order by ' ~ q('__featsql_is_entity') ~ ' rows between unbounded preceding and unbounded following' -%}
{{ featsql._pit_rows(i, r, false) }},
featsql_{{ i }}_union as (
  select {{ keys | join(', ') }}, {{ q('__featsql_fts') }}, {{ (q('__featsql_created') if r.created else 'null') }} as {{ q('__featsql_created') }}, 0 as {{ q('__featsql_is_entity') }}
    {%- for f in r.features %}, {{ q(f) }}{% endfor %}
  from featsql_{{ i }}_rows
  union all
  select {{ keys | join(', ') }}, {{ q('__featsql_ts') }}, null, 1
    {%- for f in r.features %}, null{% endfor %}
  from featsql_{{ i }}_keys
),
featsql_{{ i }}_grp as (
  select *, count(case when {{ q('__featsql_is_entity') }} = 0 then 1 end) over (
    partition by {{ keys | join(', ') }}
    order by {{ q('__featsql_fts') }} nulls first, {{ q('__featsql_is_entity') }} nulls first, {{ q('__featsql_created') }} nulls first
      {%- for f in r.features %}, {{ q(f) }} nulls first{% endfor %}
    rows between unbounded preceding and current row) as {{ q('__featsql_grp') }}
  from featsql_{{ i }}_union
),
featsql_{{ i }}_carried as (
  select {{ keys | join(', ') }}, {{ q('__featsql_fts') }} as {{ q('__featsql_ts') }}, {{ q('__featsql_is_entity') }},
    first_value(case when {{ q('__featsql_is_entity') }} = 0 then {{ q('__featsql_fts') }} end) over ({{ w }}) as {{ q('__featsql_matched') }}
    {%- for f in r.features %}, first_value({{ q(f) }}) over ({{ w }}) as {{ q(f) }}{% endfor %}
  from featsql_{{ i }}_grp
),
featsql_{{ i }} as (
  select {% for k in keys %}c.{{ k }}, {% endfor %}c.{{ q('__featsql_ts') }},
    {{ featsql._pit_guarded(r, 'c', 'c.' ~ q('__featsql_ts'), 'c.' ~ q('__featsql_matched')) }}
  from featsql_{{ i }}_carried as c
  where c.{{ q('__featsql_is_entity') }} = 1
)
{%- endmacro %}

{#- filter_by_created_timestamp: the best row among those with ts <= t and created <= t. Rows
    sort by visibility time (the later of the two), a running MAX of the (ts, created) rank gives
    each entity row its pick, and one equality join on that rank reads the values back. -#}
{% macro _pit_known_at(i, r) %}
  {%- set q = adapter.quote -%}
  {%- set keys = [] -%}{%- for k in r['keys'] -%}{%- do keys.append(q('__featsql_k' ~ loop.index0)) -%}{%- endfor -%}
{{ featsql._pit_rows(i, r, false, true) }},
featsql_{{ i }}_union as (
  select {{ keys | join(', ') }}, {{ q('__featsql_avail') }}, 0 as {{ q('__featsql_is_entity') }}, {{ q('__featsql_rank') }}
  from featsql_{{ i }}_rows
  union all
  select {{ keys | join(', ') }}, {{ q('__featsql_ts') }}, 1, null
  from featsql_{{ i }}_keys
),
featsql_{{ i }}_best as (
  select {{ keys | join(', ') }}, {{ q('__featsql_avail') }} as {{ q('__featsql_ts') }}, {{ q('__featsql_is_entity') }},
    max({{ q('__featsql_rank') }}) over (partition by {{ keys | join(', ') }}
      order by {{ q('__featsql_avail') }} nulls first, {{ q('__featsql_is_entity') }}
      rows between unbounded preceding and current row) as {{ q('__featsql_best') }}
  from featsql_{{ i }}_union
),
featsql_{{ i }}_ranked as (
  select {% for k in keys %}b.{{ k }}, {% endfor %}b.{{ q('__featsql_ts') }}, r.{{ q('__featsql_fts') }} as {{ q('__featsql_matched') }},
    {%- for f in r.features %} r.{{ q(f) }} as {{ q(f) }},{% endfor %}
    row_number() over (
      partition by {% for k in keys %}b.{{ k }}, {% endfor %}b.{{ q('__featsql_ts') }}
      order by {% for f in r.features %}r.{{ q(f) }} desc nulls last{{ ', ' if not loop.last }}{% endfor %}) as {{ q('__featsql_rn') }}
  from featsql_{{ i }}_best as b
  left join featsql_{{ i }}_rows as r
    on {% for k in keys %}b.{{ k }} = r.{{ k }} and {% endfor %}b.{{ q('__featsql_best') }} = r.{{ q('__featsql_rank') }}
  where b.{{ q('__featsql_is_entity') }} = 1
),
featsql_{{ i }} as (
  select {% for k in keys %}c.{{ k }}, {% endfor %}c.{{ q('__featsql_ts') }},
    {{ featsql._pit_guarded(r, 'c', 'c.' ~ q('__featsql_ts'), 'c.' ~ q('__featsql_matched')) }}
  from featsql_{{ i }}_ranked as c
  where c.{{ q('__featsql_rn') }} = 1
)
{%- endmacro %}
