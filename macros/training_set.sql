{#-
  A point-in-time correct training set inside `dbt run`:

    select * from {{ featsql.training_set(ref('driver_labels'), ['driver_hourly_stats:conv_rate']) }}
    select * from {{ featsql.training_set(ref('driver_labels'), 'driver_ranking_v1', full_feature_names=true) }}

  The SQL is featsql's compiler's, the same query `get_historical_features` runs, compiled for
  every warehouse by `featsql apply` into the project's macros/featsql_compiled.sql (the
  arguments after the entity must be literals). Lineage comes from the ref() of each feature
  view inside it, so `dbt run -s +model` builds the views first and dbt unit tests can give their rows.
-#}
{% macro training_set(entity, features, full_feature_names=false, timestamp_column='event_timestamp', filter_by_created_timestamp=false) %}
  {%- set request = [features, full_feature_names, timestamp_column, filter_by_created_timestamp] -%}
  {%- set compiled = featsql._compiled('featsql_ts_' ~ local_md5(tojson(request, sort_keys=true)),
                                       'featsql.training_set(features=' ~ tojson(features) ~ ')') -%}
  {%- if compiled is none -%}{{ return('(select 1 as featsql_placeholder) as featsql_training_set') }}{%- endif -%}
  {%- if entity is none -%}
    {{ exceptions.raise_compiler_error("featsql.training_set: entity is required (a ref(), source() or relation)") }}
  {%- endif -%}
  {{ return(compiled(entity)) }}
{% endmacro %}
