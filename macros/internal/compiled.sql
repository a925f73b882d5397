{#- The compiled SQL `featsql apply` wrote into the project (featsql_compiled.sql), or none. -#}
{% macro _state() %}
  {%- set state = context.get('featsql_compiled_state') -%}
  {{ return(state() if state is not none else none) }}
{% endmacro %}

{#- The compiled macro `name` (what: the call, for messages), checked against dbt's graph: while
    dbt parses, none when missing (lineage comes once it exists); when it runs, a missing, stale
    or failed compilation is one line naming the fix. -#}
{% macro _compiled(name, what) %}
  {%- set state = featsql._state() -%}
  {%- if state is none -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ exceptions.raise_compiler_error("featsql: " ~ what ~ ": this project has no compiled featsql SQL (macros/featsql_compiled.sql); run `featsql apply`") }}
  {%- endif -%}
  {%- set entry = state.entries.get(name) -%}
  {%- if not execute -%}{{ return(context.get(name) if entry is not none else none) }}{%- endif -%}
  {%- if state.error -%}{{ exceptions.raise_compiler_error(state.error) }}{%- endif -%}
  {%- if entry is none -%}
    {{ exceptions.raise_compiler_error("featsql: " ~ what ~ " is not compiled in macros/featsql_compiled.sql (new or changed arguments, or an unknown view); run `featsql apply`") }}
  {%- endif -%}
  {%- if graph is mapping and graph.nodes is defined and graph.nodes -%}
    {%- for uid, expected, label in entry.deps -%}
      {%- set node = graph.nodes.get(uid) or graph.exposures.get(uid) -%}
      {%- set meta = none -%}
      {%- if node -%}
        {%- set config_meta = (node.config or {}).meta or {} -%}
        {%- set meta = config_meta.featsql if 'featsql' in config_meta else (node.meta or {}).get('featsql') -%}
      {%- endif -%}
      {%- if not node or local_md5(tojson(meta, sort_keys=true)) != expected -%}
        {{ exceptions.raise_compiler_error("featsql: " ~ label ~ " changed since the last `featsql apply` (macros/featsql_compiled.sql is stale); run `featsql apply`") }}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(context.get(name)) }}
{% endmacro %}
