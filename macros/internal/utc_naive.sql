{#- Any timestamp (naive = UTC, zone-aware = any zone) -> naive UTC, as featsql's compiler does.
    Needs the session time zone to be UTC (featsql's own connections set it). -#}
{% macro _utc_naive(expr) %}{{ return(adapter.dispatch('_utc_naive', 'featsql')(expr)) }}{% endmacro %}

{% macro default___utc_naive(expr) %}{{ return("cast(cast(" ~ expr ~ " as timestamptz) as timestamp)") }}{% endmacro %}

{#- Snowflake: TIMESTAMP_TZ -> NTZ keeps the wall clock of the stored offset; convert to UTC first. -#}
{% macro snowflake___utc_naive(expr) %}{{ return("cast(convert_timezone('UTC', cast(" ~ expr ~ " as timestamp_tz)) as timestamp_ntz)") }}{% endmacro %}

{#- BigQuery: TIMESTAMP(datetime) reads a naive value as UTC; DATETIME(ts, 'UTC') drops the zone. -#}
{% macro bigquery___utc_naive(expr) %}{{ return("datetime(timestamp(" ~ expr ~ "), 'UTC')") }}{% endmacro %}

{% macro _minus_seconds(expr, seconds) %}{{ return(adapter.dispatch('_minus_seconds', 'featsql')(expr, seconds)) }}{% endmacro %}

{% macro default___minus_seconds(expr, seconds) %}{{ return(expr ~ " - interval '" ~ seconds ~ " second'") }}{% endmacro %}

{#- BigQuery and Snowflake spell intervals without a quoted unit. -#}
{% macro bigquery___minus_seconds(expr, seconds) %}{{ return("datetime_sub(" ~ expr ~ ", interval " ~ seconds ~ " second)") }}{% endmacro %}
{% macro snowflake___minus_seconds(expr, seconds) %}{{ return("dateadd(second, -" ~ seconds ~ ", " ~ expr ~ ")") }}{% endmacro %}

{#- A column name of a dbt model or entity query, quoted as the warehouse stores it. -#}
{% macro _name(name) %}{{ return(adapter.dispatch('_name', 'featsql')(name)) }}{% endmacro %}

{% macro default___name(name) %}{{ return(adapter.quote(name)) }}{% endmacro %}

{#- Snowflake stores names dbt wrote unquoted in upper case (driver_id -> DRIVER_ID). -#}
{% macro snowflake___name(name) %}
  {{ return(adapter.quote(name | upper if modules.re.fullmatch('[a-z_][a-z0-9_$]*', name) else name)) }}
{% endmacro %}

{#- Epoch microseconds as fixed-width text (offset to stay positive): sorts like the timestamp. -#}
{% macro _sortable(expr) %}
  {{ return("lpad(cast(" ~ featsql._epoch_us(expr) ~ " + 10000000000000000 as " ~ dbt.type_string() ~ "), 17, '0')") }}
{% endmacro %}

{% macro _epoch_us(expr) %}{{ return(adapter.dispatch('_epoch_us', 'featsql')(expr)) }}{% endmacro %}

{% macro default___epoch_us(expr) %}{{ return("cast(extract(epoch from " ~ expr ~ ") * 1000000 as bigint)") }}{% endmacro %}
{% macro duckdb___epoch_us(expr) %}{{ return("epoch_us(" ~ expr ~ ")") }}{% endmacro %}
{% macro snowflake___epoch_us(expr) %}{{ return("date_part(epoch_microsecond, " ~ expr ~ ")") }}{% endmacro %}
{% macro bigquery___epoch_us(expr) %}{{ return("unix_micros(cast(" ~ expr ~ " as timestamp))") }}{% endmacro %}
