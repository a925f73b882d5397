"""Request-time features: one SQL expression, computed by the warehouse for training sets and
in-process for online reads, from the same parsed expression (no training/serving skew).

An expression is written in DuckDB/ANSI syntax over a feature service's request columns and the
features it requests (named by their output names: `alias__feature`, `view__feature`, or the
short name when it is unique in the service). `check` validates it and infers its type at apply;
`to_sql` compiles it per warehouse (guards emitted, so no warehouse raises); `evaluator` compiles
it into a Python closure. The portable set and its semantics, the same on both sides:

    NULL anywhere -> NULL (SQL); AND / OR / NOT are three-valued; IS [NOT] NULL
    + - * (int when both sides are), unary -; `/` is true division and x / 0 is NULL
    = <> < <= > >= on two numbers, strings, booleans or timestamps
    CASE WHEN ... THEN ... [ELSE ...] END, COALESCE
    LEAST / GREATEST: NULL when any argument is NULL
    ABS; ROUND(x[, n]) half away from zero (SIGN(x) * FLOOR(ABS(x) * 10^n + 0.5) / 10^n);
    LN (NULL for x <= 0), EXP (NULL above 709, 0 below -708), SQRT (NULL for x < 0)
    || on strings, LOWER, UPPER, LENGTH (characters)
    EXTRACT(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND FROM ts): an int of the UTC clock
    DATE_DIFF('second'|'minute'|'hour'|'day', a, b): unit boundaries crossed from a to b (UTC)
    literals: numbers, 'strings', true / false, NULL, TIMESTAMP '...'
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import sqlglot
from sqlglot import exp

from featsql.errors import FeatsqlError

NUMERIC = ("int", "float")
TYPES = ("int", "float", "bool", "string", "timestamp")  # request columns and results
_EXTRACT = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
_UNIT_US = {"SECOND": 10**6, "MINUTE": 60 * 10**6, "HOUR": 3600 * 10**6, "DAY": 86400 * 10**6}
_EXP_MAX, _EXP_MIN = 709, -708  # EXP above overflows (NULL); below underflows (0)
PORTABLE = ("ABS", "ROUND", "LN", "EXP", "SQRT", "COALESCE", "LEAST", "GREATEST", "LOWER",
            "UPPER", "LENGTH", "EXTRACT", "DATE_DIFF", "CASE")
_COMPARE = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITH = (exp.Add, exp.Sub, exp.Mul)
_UNARY_FLOAT = (exp.Ln, exp.Exp, exp.Sqrt)
_STRING_FN = (exp.Lower, exp.Upper)


def parse(sql: str) -> exp.Expression:
    """The expression, parsed (never pasted); one scalar expression, not a query."""
    try:
        parsed = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise FeatsqlError(f"does not parse: {' '.join(str(e).split())[:200]}") from None
    if isinstance(parsed, (exp.Query, exp.Command)) or parsed.find(exp.Query, exp.Star):
        raise FeatsqlError("expected one expression (no SELECT, subquery or *)")
    return parsed


def kind_of_input(kind: str) -> str:
    """The expression type of a feature or request column of registered `kind`."""
    return "timestamp" if kind in ("timestamp", "timestamp_tz") else kind


def check(node: exp.Expression, inputs: Mapping[str, str]) -> str | None:
    """The expression's type (None: only NULL); a name not in `inputs`, a function outside the
    portable set or a type mismatch is a FeatsqlError naming it."""
    return _type(node, inputs)


def _type(node: exp.Expression, inputs: Mapping[str, str]) -> str | None:  # noqa: C901 - one case per node
    t = lambda n: _type(n, inputs)  # noqa: E731
    if isinstance(node, exp.Paren):
        return t(node.this)
    if isinstance(node, exp.Column):
        if node.table:
            raise FeatsqlError(f"'{node.sql()}': name a request column or feature without a table")
        if node.name not in inputs:
            from featsql.errors import did_you_mean

            raise FeatsqlError(f"unknown column '{node.name}'{did_you_mean(node.name, set(inputs))};"
                               f" the service has {', '.join(sorted(inputs)) or 'none'}")
        kind = kind_of_input(inputs[node.name])
        if kind not in TYPES:
            raise FeatsqlError(f"column '{node.name}' is {inputs[node.name]}, which request-time"
                               " expressions do not take")
        return kind
    if isinstance(node, exp.Literal):
        return "string" if node.is_string else "int" if node.is_int else "float"
    if isinstance(node, exp.Boolean):
        return "bool"
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast):
        if (isinstance(node.this, exp.Literal) and node.this.is_string
                and node.to.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)):
            _timestamp_literal(node.this.name)
            return "timestamp"
        raise FeatsqlError(f"'{node.sql('duckdb')}': CAST is not in the portable set"
                           " (TIMESTAMP '...' literals are)")
    if isinstance(node, exp.Neg):
        return _numeric(t(node.this), node)
    if isinstance(node, _ARITH):
        a, b = _numeric(t(node.this), node), _numeric(t(node.expression), node)
        return "float" if "float" in (a, b) else a or b
    if isinstance(node, exp.Div):
        _numeric(t(node.this), node), _numeric(t(node.expression), node)
        return "float"
    if type(node) in _COMPARE:
        _comparable(t(node.this), t(node.expression), node)
        return "bool"
    if isinstance(node, (exp.And, exp.Or)):
        _is(t(node.this), ("bool",), node), _is(t(node.expression), ("bool",), node)
        return "bool"
    if isinstance(node, exp.Not):
        _is(t(node.this), ("bool",), node)
        return "bool"
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise FeatsqlError(f"'{node.sql('duckdb')}': only IS NULL / IS NOT NULL")
        t(node.this)
        return "bool"
    if isinstance(node, exp.Case):
        if node.this is not None:
            raise FeatsqlError("write CASE WHEN condition THEN ... (no CASE value WHEN ...)")
        for branch in node.args.get("ifs") or []:
            _is(t(branch.this), ("bool",), branch.this)
        return _unify([t(b.args["true"]) for b in node.args.get("ifs") or []]
                      + ([t(node.args["default"])] if node.args.get("default") else []), node)
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
        return _unify([t(a) for a in [node.this, *node.expressions]], node)
    if isinstance(node, exp.Abs):
        return _numeric(t(node.this), node)
    if isinstance(node, exp.Round):
        _numeric(t(node.this), node)
        if node.args.get("decimals") is not None:
            if _digits(node.args["decimals"]) is None:
                raise FeatsqlError(f"'{node.sql('duckdb')}': ROUND's digits must be an integer literal")
        return "float"
    if isinstance(node, _UNARY_FLOAT):
        _numeric(t(node.this), node)
        return "float"
    if isinstance(node, exp.DPipe):
        _is(t(node.this), ("string",), node), _is(t(node.expression), ("string",), node)
        return "string"
    if isinstance(node, _STRING_FN):
        _is(t(node.this), ("string",), node)
        return "string"
    if isinstance(node, exp.Length):
        _is(t(node.this), ("string",), node)
        return "int"
    if isinstance(node, exp.Extract):
        part = node.this.name.upper()
        if part not in _EXTRACT:
            raise FeatsqlError(f"EXTRACT({part} ...): expected one of {', '.join(_EXTRACT)}")
        _is(t(node.expression), ("timestamp",), node)
        return "int"
    if isinstance(node, exp.DateDiff):
        unit = (node.args.get("unit").name if node.args.get("unit") is not None else "").upper()
        if unit not in _UNIT_US:
            raise FeatsqlError(f"DATE_DIFF: unit '{unit.lower()}' is not one of"
                               f" {', '.join(u.lower() for u in _UNIT_US)}")
        _is(t(node.this), ("timestamp",), node), _is(t(node.expression), ("timestamp",), node)
        return "int"
    if isinstance(node, (exp.Func, exp.Anonymous)):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this).upper()
        raise FeatsqlError(f"function {name} is not in the portable set ({', '.join(PORTABLE)},"
                           " arithmetic, comparisons, AND/OR/NOT, ||)")
    raise FeatsqlError(f"'{node.sql('duckdb')}' is not in the portable set")


def _digits(node: exp.Expression | None) -> int | None:
    """ROUND's digits: an integer literal, maybe negative."""
    if node is None:
        return 0
    if isinstance(node, exp.Neg):
        inner = _digits(node.this)
        return None if inner is None else -inner
    return int(node.name) if isinstance(node, exp.Literal) and node.is_int else None


def _numeric(kind: str | None, node: exp.Expression) -> str | None:
    return _is(kind, NUMERIC, node)


def _is(kind: str | None, allowed: tuple[str, ...], node: exp.Expression) -> str | None:
    if kind is not None and kind not in allowed:
        raise FeatsqlError(f"type mismatch in '{node.sql('duckdb')}': {kind} where"
                           f" {' or '.join(allowed)} is expected")
    return kind


def _comparable(a: str | None, b: str | None, node: exp.Expression) -> None:
    if "string" in (a, b) and not isinstance(node, (exp.EQ, exp.NEQ)):
        # Warehouses order strings by their collation, Python by code point: not portable.
        raise FeatsqlError(f"'{node.sql('duckdb')}': compare strings with = or <> only")
    if a is None or b is None or a == b or (a in NUMERIC and b in NUMERIC):
        return
    raise FeatsqlError(f"type mismatch in '{node.sql('duckdb')}': cannot compare {a} with {b}")


def _unify(kinds: list[str | None], node: exp.Expression) -> str | None:
    known = {k for k in kinds if k is not None}
    if not known:
        return None
    if known <= set(NUMERIC):
        return "float" if "float" in known else "int"
    if len(known) == 1:
        return known.pop()
    raise FeatsqlError(f"type mismatch in '{node.sql('duckdb')}': branches are {', '.join(sorted(known))}")


def result_type(node: exp.Expression, inputs: Mapping[str, str], declared: str | None) -> str:
    """The declared type (checked against the inferred one; int widens to float) or the inferred."""
    inferred = check(node, inputs)
    if declared is None:
        if inferred is None:
            raise FeatsqlError("the expression is always NULL; declare its type")
        return inferred
    if declared not in TYPES:
        raise FeatsqlError(f"type '{declared}' is not one of {', '.join(TYPES)}")
    if inferred is None or inferred == declared or (inferred == "int" and declared == "float"):
        return declared
    raise FeatsqlError(f"type mismatch: declared {declared}, the expression is {inferred}")


def _timestamp_literal(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FeatsqlError(f"TIMESTAMP '{text}' is not an ISO 8601 timestamp") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def service_inputs(projections: Any, views: Mapping[str, Any], request: Any) -> dict[str, str]:
    """What a request-time expression may name, with registered kinds: request columns, every
    feature as `name__feature`, and by its short name where that is unique in the service."""
    inputs: dict[str, str] = {}
    short: dict[str, list[str]] = {}
    for p in projections:
        view = views[p.view]
        for f in p.features:
            kind = view.feature(f).kind
            inputs[f"{p.name}__{f}"] = kind
            short.setdefault(f, []).append(kind)
    for f, kinds in short.items():
        if len(kinds) == 1 and f not in inputs:
            inputs[f] = kinds[0]
    for c in request:
        inputs[c.name] = c.type
    return inputs


@dataclass(frozen=True)
class Computed:
    """A service's request-time feature, parsed once, with what its inputs are."""

    name: str
    node: exp.Expression
    kind: str
    inputs: dict[str, str]  # input name -> registered kind
    request: tuple[str, ...]  # the service's request columns

    def uses(self) -> set[str]:
        return {c.name for c in self.node.find_all(exp.Column)}

    @property
    def strict(self) -> bool:
        """NULL whenever an input is NULL (no CASE, COALESCE, IS, AND, OR): then a NULL input
        alone decides a NULL result's status."""
        return not self.node.find(exp.Case, exp.Coalesce, exp.Is, exp.And, exp.Or)


def computed_features(features: Any, views: Mapping[str, Any]) -> list[Computed]:
    """The request-time features of a feature service (none for a plain feature list)."""
    computed = getattr(features, "computed", ())
    if not computed:
        return []
    inputs = service_inputs(features.projections, views, features.request)
    request = tuple(c.name for c in features.request)
    return [Computed(c.name, parse(c.sql), c.type, inputs, request) for c in computed]


# -- SQL (offline) -------------------------------------------------------------------------------

def to_sql(node: exp.Expression, wh: Any, column: Callable[[str], exp.Expression]) -> exp.Expression:
    """The expression for warehouse `wh`, each input name replaced by `column(name)` (which
    gives a time input as naive UTC), with the portable semantics' guards."""
    def s(n: exp.Expression) -> exp.Expression:
        return to_sql(n, wh, column)

    double = exp.DataType.build("DOUBLE")
    if isinstance(node, exp.Paren):
        return exp.Paren(this=s(node.this))
    if isinstance(node, exp.Column):  # the caller gives time inputs as naive UTC
        return column(node.name)
    if isinstance(node, exp.Cast):  # a TIMESTAMP literal
        return wh.timestamp_literal(_timestamp_literal(node.this.name).isoformat(sep=" "))
    if isinstance(node, (exp.Literal, exp.Boolean, exp.Null)):
        return node.copy()
    if isinstance(node, exp.Div):
        return exp.Div(this=exp.cast(s(node.this), double),
                       expression=exp.Nullif(this=s(node.expression), expression=exp.Literal.number(0)))
    if isinstance(node, (exp.Greatest, exp.Least)):
        args = [s(a) for a in [node.this, *node.expressions]]
        pick = exp.GTE if isinstance(node, exp.Greatest) else exp.LTE
        out = args[0]
        for arg in args[1:]:
            either_null = exp.or_(exp.Is(this=out.copy(), expression=exp.null()),
                                  exp.Is(this=arg.copy(), expression=exp.null()))
            out = exp.Case(ifs=[exp.If(this=either_null, true=exp.null()),
                                exp.If(this=pick(this=out.copy(), expression=arg.copy()), true=out.copy())],
                           default=arg.copy())
        return out
    if isinstance(node, exp.Round):
        x = exp.cast(s(node.this), double)
        scale = exp.Pow(this=exp.Literal.number(10), expression=exp.Literal.number(_digits(node.args.get("decimals"))))
        inner = exp.Floor(this=exp.Add(this=exp.Mul(this=exp.Abs(this=x.copy()), expression=scale.copy()),
                                       expression=exp.Literal.number(0.5)))
        return exp.Paren(this=exp.Div(this=exp.Mul(this=exp.Sign(this=x), expression=inner), expression=scale))
    if isinstance(node, exp.Ln):
        x = s(node.this)
        return exp.Case(ifs=[exp.If(this=exp.GT(this=x.copy(), expression=exp.Literal.number(0)),
                                    true=exp.Ln(this=exp.cast(x, double)))])
    if isinstance(node, exp.Sqrt):
        x = s(node.this)
        return exp.Case(ifs=[exp.If(this=exp.GTE(this=x.copy(), expression=exp.Literal.number(0)),
                                    true=exp.Sqrt(this=exp.cast(x, double)))])
    if isinstance(node, exp.Exp):
        x = s(node.this)
        return exp.Case(ifs=[exp.If(this=exp.LT(this=x.copy(), expression=exp.Literal.number(_EXP_MIN)),
                                    true=exp.Literal.number(0.0)),
                             exp.If(this=exp.LTE(this=x.copy(), expression=exp.Literal.number(_EXP_MAX)),
                                    true=exp.Exp(this=exp.cast(x, double)))])
    if isinstance(node, exp.Extract):
        part = node.this.name.upper()
        value: exp.Expression = exp.Extract(this=exp.var(part), expression=s(node.expression))
        if part == "SECOND":
            value = exp.Floor(this=value)
        return exp.cast(value, exp.DataType.build("BIGINT"))
    if isinstance(node, exp.DateDiff):
        unit = exp.Literal.number(_UNIT_US[node.args["unit"].name.upper()])

        def floor_div(ts: exp.Expression) -> exp.Expression:
            us = wh.epoch_us(s(ts))
            negative_rest = exp.LT(this=exp.Mod(this=us.copy(), expression=unit.copy()),
                                   expression=exp.Literal.number(0))
            return exp.Paren(this=exp.Sub(
                this=exp.IntDiv(this=us, expression=unit.copy()),
                expression=exp.Case(ifs=[exp.If(this=negative_rest, true=exp.Literal.number(1))],
                                    default=exp.Literal.number(0))))
        return exp.Paren(this=exp.Sub(this=floor_div(node.this), expression=floor_div(node.expression)))
    copy = node.copy()
    for key, child in node.args.items():
        if isinstance(child, exp.Expression):
            copy.set(key, s(child))
        elif isinstance(child, list):
            copy.set(key, [s(c) if isinstance(c, exp.Expression) else c for c in child])
    return copy


# -- Python (online) -----------------------------------------------------------------------------

Row = Mapping[str, Any]
Columns = Mapping[str, list]
ColumnFn = Callable[[Columns, int], list]


def column_evaluator(node: exp.Expression, inputs: Mapping[str, str]) -> ColumnFn:
    """A function computing the expression for n rows at once, from one list per input (each node
    is one pass over the rows: no per-row interpretation), with the semantics above. Time inputs
    are naive UTC datetimes (or aware / ISO text, converted); NULL is None."""
    return _cv(node, inputs)


def evaluator(node: exp.Expression, inputs: Mapping[str, str]) -> Callable[[Row], Any]:
    """The expression on one row: `column_evaluator` on a one-row batch."""
    fn = _cv(node, inputs)
    return lambda row: fn({k: [v] for k, v in row.items()}, 1)[0]


def _cv(node: exp.Expression, inputs: Mapping[str, str]) -> ColumnFn:  # noqa: C901 - one case per node
    e = lambda n: _cv(n, inputs)  # noqa: E731
    if isinstance(node, exp.Paren):
        return e(node.this)
    if isinstance(node, exp.Column):
        name = node.name
        if inputs[name] in ("timestamp", "timestamp_tz"):
            return lambda env, n: [_naive_utc(v) for v in env[name]]
        return lambda env, n: env[name]
    if isinstance(node, (exp.Cast, exp.Literal, exp.Boolean, exp.Null)):
        value = _literal(node)
        return lambda env, n: [value] * n
    if isinstance(node, exp.Neg):
        return _map1(e(node.this), operator.neg)
    if isinstance(node, exp.Div):
        a, b = e(node.this), e(node.expression)
        return lambda env, n: [None if x is None or y is None or y == 0 else x / y
                               for x, y in zip(a(env, n), b(env, n))]
    if isinstance(node, _ARITH) or type(node) in _COMPARE or isinstance(node, exp.DPipe):
        return _binary(node, inputs)
    if isinstance(node, exp.And):
        a, b = e(node.this), e(node.expression)
        return lambda env, n: [_and(x, y) for x, y in zip(a(env, n), b(env, n))]
    if isinstance(node, exp.Or):
        a, b = e(node.this), e(node.expression)
        return lambda env, n: [_or(x, y) for x, y in zip(a(env, n), b(env, n))]
    if isinstance(node, exp.Not):
        return _map1(e(node.this), operator.not_)
    if isinstance(node, exp.Is):
        a = e(node.this)
        return lambda env, n: [x is None for x in a(env, n)]
    if isinstance(node, exp.Case):
        branches = [(e(b.this), e(b.args["true"])) for b in node.args.get("ifs") or []]
        default = e(node.args["default"]) if node.args.get("default") else (lambda env, n: [None] * n)

        def case(env: Columns, n: int) -> list:
            out = list(default(env, n))
            done = [False] * n
            for cond, value in branches:  # every branch is guarded: evaluating it never raises
                c, v = cond(env, n), value(env, n)
                for i in range(n):
                    if not done[i] and c[i] is True:
                        out[i], done[i] = v[i], True
            return out
        return case
    if isinstance(node, exp.Coalesce):
        args = [e(a) for a in [node.this, *node.expressions]]
        return lambda env, n: [next((v for v in vs if v is not None), None)
                               for vs in zip(*(a(env, n) for a in args))]
    if isinstance(node, (exp.Greatest, exp.Least)):
        args = [e(a) for a in [node.this, *node.expressions]]
        pick = max if isinstance(node, exp.Greatest) else min
        return lambda env, n: [None if None in vs else pick(vs) for vs in zip(*(a(env, n) for a in args))]
    if isinstance(node, exp.Abs):
        return _map1(e(node.this), abs)
    if isinstance(node, exp.Round):
        scale, a, floor = 10.0 ** _digits(node.args.get("decimals")), e(node.this), math.floor
        return lambda env, n: [None if x is None else floor(x * scale + 0.5) / scale if x >= 0
                               else -floor(-x * scale + 0.5) / scale for x in a(env, n)]
    if isinstance(node, exp.Ln):
        return _map1(e(node.this), lambda x: math.log(x) if x > 0 else None)
    if isinstance(node, exp.Sqrt):
        return _map1(e(node.this), lambda x: math.sqrt(x) if x >= 0 else None)
    if isinstance(node, exp.Exp):
        return _map1(e(node.this), lambda x: 0.0 if x < _EXP_MIN else math.exp(x) if x <= _EXP_MAX else None)
    if isinstance(node, exp.Lower):
        return _map1(e(node.this), str.lower)
    if isinstance(node, exp.Upper):
        return _map1(e(node.this), str.upper)
    if isinstance(node, exp.Length):
        return _map1(e(node.this), len)
    if isinstance(node, exp.Extract):
        attr = node.this.name.lower()
        return _map1(e(node.expression), operator.attrgetter(attr))
    if isinstance(node, exp.DateDiff):
        end, start = e(node.this), e(node.expression)
        unit = _UNIT_US[node.args["unit"].name.upper()]
        return lambda env, n: [None if x is None or y is None else _epoch_us(y) // unit - _epoch_us(x) // unit
                               for x, y in zip(start(env, n), end(env, n))]
    raise FeatsqlError(f"'{node.sql('duckdb')}' is not in the portable set")


# One list comprehension per operator, the operator spelled in from this fixed table (never
# from the expression's text): an operand that is a literal is bound as a constant.
_SYMBOLS = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.DPipe: "+", exp.EQ: "==", exp.NEQ: "!=",
            exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_TEMPLATES = {
    "both": "lambda A, B: [None if x is None or y is None else x {op} y for x, y in zip(A, B)]",
    "right": "lambda A, c: [None if x is None else x {op} c for x in A]",
    "left": "lambda c, B: [None if y is None else c {op} y for y in B]",
}
_COMPILED: dict[tuple[str, str], Callable[[Any, Any], list]] = {}


def _comprehension(form: str, op: str) -> Callable[[Any, Any], list]:
    fn = _COMPILED.get((form, op))
    if fn is None:
        fn = _COMPILED[(form, op)] = eval(_TEMPLATES[form].format(op=op))  # noqa: S307 - fixed text
    return fn


def _binary(node: exp.Expression, inputs: Mapping[str, str]) -> ColumnFn:
    op = _SYMBOLS[type(node)]
    left, right = _unparen(node.this), _unparen(node.expression)
    constant = (exp.Literal, exp.Boolean, exp.Cast)
    if isinstance(right, constant) and not isinstance(left, constant):
        a, c, fn = _cv(left, inputs), _literal(right), _comprehension("right", op)
        return lambda env, n: fn(a(env, n), c)
    if isinstance(left, constant) and not isinstance(right, constant):
        c, b, fn = _literal(left), _cv(right, inputs), _comprehension("left", op)
        return lambda env, n: fn(c, b(env, n))
    a, b, fn = _cv(left, inputs), _cv(right, inputs), _comprehension("both", op)
    return lambda env, n: fn(a(env, n), b(env, n))


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _map1(a: ColumnFn, f: Callable[[Any], Any]) -> ColumnFn:
    return lambda env, n: [None if x is None else f(x) for x in a(env, n)]


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Cast):
        return _timestamp_literal(node.this.name)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    return node.name if node.is_string else int(node.name) if node.is_int else float(node.name)


def _and(a: Any, b: Any) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Any, b: Any) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


_EPOCH = datetime(1970, 1, 1)


def _naive_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = _timestamp_literal(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _epoch_us(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
