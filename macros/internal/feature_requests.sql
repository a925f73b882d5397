{#- Resolve feature references (a list of 'view:feature' / 'view:*', or a feature-service name)
    against the dbt graph, the same way featsql's Python resolver does. Returns a list of
    {name, relation, keys (view join keys), entity_columns, ts, created, ttl_seconds, features}. -#}
{% macro _feature_requests(features) %}
  {%- set views = {} -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
    {%- set meta = (node.config.meta or {}).get('featsql') or (node.meta or {}).get('featsql') -%}
    {%- if meta is mapping -%}{%- do views.update({node.name: {'node': node, 'meta': meta}}) -%}{%- endif -%}
  {%- endfor -%}
  {%- set items = [] -%}
  {%- if features is string -%}
    {%- set found = [] -%}
    {%- for e in graph.exposures.values() if e.name == features -%}
      {%- do found.append((e.config.meta or {}).get('featsql') or (e.meta or {}).get('featsql') or {}) -%}
    {%- endfor -%}
    {%- if not found -%}
      {{ exceptions.raise_compiler_error("featsql.training_set: features='" ~ features ~ "' is not a feature service (an exposure of type ml with featsql meta)") }}
    {%- endif -%}
    {%- set items = found[0].get('features', []) -%}
  {%- elif features is iterable and features is not mapping -%}
    {%- set items = features -%}
  {%- else -%}
    {{ exceptions.raise_compiler_error("featsql.training_set: features must be a list of 'view:feature' or a feature-service name, got " ~ features) }}
  {%- endif -%}
  {%- set order = [] -%}
  {%- set requests = {} -%}
  {%- for item in items -%}
    {%- if item is string -%}
      {%- if ':' not in item -%}
        {{ exceptions.raise_compiler_error("featsql.training_set: feature reference '" ~ item ~ "' must be 'view:feature'") }}
      {%- endif -%}
      {%- set vname, fname = item.split(':', 1) -%}
      {%- set spec = {'view': vname, 'alias': none, 'join_key_map': {}, 'features': [fname]} -%}
    {%- else -%}
      {%- set spec = {'view': item.view, 'alias': item.get('alias'), 'join_key_map': item.get('join_key_map') or {}, 'features': item.get('features', ['*'])} -%}
    {%- endif -%}
    {%- if spec.view not in views -%}
      {{ exceptions.raise_compiler_error("featsql.training_set: unknown feature view '" ~ spec.view ~ "'; known: " ~ (views.keys() | list | join(', '))) }}
    {%- endif -%}
    {%- set name = spec.alias or spec.view -%}
    {%- if name not in requests -%}
      {%- set node, meta = views[spec.view].node, views[spec.view].meta -%}
      {%- set keys = [] -%}
      {%- for e in meta.get('entities', []) -%}
        {%- do keys.append(e if e is string else (e.get('join_key') or e.name)) -%}
      {%- endfor -%}
      {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias or node.name) -%}
      {%- set ts = meta.get('timestamp_field', 'event_timestamp') -%}
      {%- set created = meta.get('created_timestamp_field') -%}
      {%- set all_features = meta.get('features') -%}
      {%- if all_features is none -%}
        {%- set all_features = [] -%}
        {%- set reserved = keys + [ts, created] -%}
        {%- for c in adapter.get_columns_in_relation(relation) if c.name not in reserved -%}
          {%- do all_features.append(c.name) -%}
        {%- endfor -%}
      {%- endif -%}
      {%- do requests.update({name: {'name': name, 'relation': relation, 'keys': keys,
            'join_key_map': spec.join_key_map, 'ts': ts, 'created': created,
            'ttl_seconds': featsql._seconds(meta.get('ttl')), 'all': all_features, 'features': []}}) -%}
      {%- do order.append(name) -%}
    {%- endif -%}
    {%- set r = requests[name] -%}
    {%- for f in spec.features -%}
      {%- for g in (r.all if f == '*' else [f]) if g not in r.features -%}
        {%- if g not in r.all -%}
          {{ exceptions.raise_compiler_error("featsql.training_set: '" ~ spec.view ~ ":" ~ g ~ "' is not a feature; known: " ~ (r.all | join(', '))) }}
        {%- endif -%}
        {%- do r.features.append(g) -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set out = [] -%}
  {%- for name in order -%}
    {%- set r = requests[name] -%}
    {%- set cols = [] -%}
    {%- for k in r['keys'] -%}{%- do cols.append(r.join_key_map.get(k, k)) -%}{%- endfor -%}
    {%- do r.update({'entity_columns': cols}) -%}
    {%- do out.append(r) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{#- Durations as featsql reads them: 30s, 15m, 1h, 1d, 2w or a number of seconds; 0/none = no ttl. -#}
{% macro _seconds(value) %}
  {%- if value is none or value == 0 or value == '0' -%}{{ return(none) }}{%- endif -%}
  {%- if value is number -%}{{ return(value | int) }}{%- endif -%}
  {%- set units = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800} -%}
  {%- set text = value | string | trim -%}
  {%- if text[-1] in units and text[:-1].isdigit() -%}
    {{ return(text[:-1] | int * units[text[-1]]) }}
  {%- endif -%}
  {%- if text.startswith('P') -%}
    {%- set m = modules.re.match('^P(?:(\\d+)W)?(?:(\\d+)D)?(?:T(?:(\\d+)H)?(?:(\\d+)M)?(?:(\\d+)S)?)?$', text) -%}
    {%- if m -%}
      {{ return((m.group(1) or 0) | int * 604800 + (m.group(2) or 0) | int * 86400 + (m.group(3) or 0) | int * 3600 + (m.group(4) or 0) | int * 60 + (m.group(5) or 0) | int) }}
    {%- endif -%}
  {%- endif -%}
  {{ exceptions.raise_compiler_error("featsql: ttl '" ~ value ~ "' is not a duration like 1d or P1D") }}
{% endmacro %}
