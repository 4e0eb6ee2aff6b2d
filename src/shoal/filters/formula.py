"""Qdrant's score-boosting formulas (``FormulaQuery``): compile an expression into an
evaluator of (prefetch scores, payload, point id) → score, with Qdrant's server semantics.

Read from Qdrant's source: ``lib/shard/src/query/formula.rs`` (parsing),
``lib/segment/src/index/query_optimization/rescore_formula/parsed_formula.rs`` (variables,
decay constants) and ``formula_scorer.rs`` (evaluation),
``lib/segment/src/index/struct_payload_index/read_view/value_retriever/helpers.rs`` (payload
values), ``lib/api/src/rest/validate.rs`` (defaults). What follows from them:

- A string is a variable: ``$score`` (``$score[0]``) and ``$score[i]`` are the point's score
  in prefetch ``i``; any other ``$`` word is refused; anything else is a payload key
  (Qdrant's key grammar). A missing score takes its default, else 0.
- A payload key's values are read as Qdrant reads them without an index: every value the
  key reaches, arrays opened one level (not after a trailing ``[]``). No value: the key's
  default is used, and without one the request fails; one value: it must be a number (a
  geo point for ``geo_distance``, a datetime string for ``datetime_key``); several values
  (a multi-valued key) are an array, which is none of those, so the request fails.
- A condition is 1.0 where it matches, else 0.0. ``mult`` stops at a factor equal to 0 and
  ``div`` at a numerator equal to 0 (the rest is not evaluated, so it cannot fail);
  ``div`` by 0 gives ``by_zero_default`` when set. ``sum`` adds left to right.
- Non-finite results fail the request (``shoal.filters.formula_math``); the score is the
  ``f32`` value of the result.
- ``max``, ``min`` (NaN operands skipped, at least one operand) and ``acosh`` are
  qdrant-client 1.20's expressions, implemented as its local mode does them.

Errors: a malformed expression, an unknown variable, a bad default or decay parameter raise
``InvalidQuery`` when compiling; a bad condition ``InvalidFilter``; a value missing or of the
wrong type, or a non-finite result, raise ``InvalidQuery`` when evaluating a point (Qdrant
fails the whole request with 400 then).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Union

from pydantic import TypeAdapter, ValidationError

from shoal import models as m
from shoal.errors import InvalidFilter, InvalidQuery
from shoal.filters import formula_math as fm
from shoal.filters import tree as t
from shoal.filters.evaluate import compile_node, parse_datetime, values_at
from shoal.filters.geo import haversine, request_point
from shoal.filters.structured import condition_to_tree

#: The score of each prefetch for the point (``None``: the point is not in that prefetch).
Scores = Sequence[Union[float, None]]
PointId = Union[int, str]
_Eval = Callable[[Scores, dict[str, Any], PointId], float]

_EXPRESSION: TypeAdapter[Any] = TypeAdapter(m.Expression)
_MISSING: Any = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Formula:
    """A compiled formula; call it (or ``score``) once per point.

    Attributes:
        payload_keys: the payload keys it reads (as written), for loading payloads.
        prefetches: one more than the highest ``$score[i]`` it reads (0 if none).
    """

    _root: _Eval
    payload_keys: frozenset[str]
    prefetches: int

    def score(self, scores: Scores, payload: dict[str, Any], point_id: PointId) -> float:
        """The point's score.

        Args:
            scores: the point's score in each prefetch, in order (``None`` where absent).
            payload: the point's payload (``{}`` for none).
            point_id: its id (for ``has_id`` conditions).

        Returns:
            The score (an ``f32`` value).

        Raises:
            InvalidQuery: a payload value is missing or of the wrong type, or the result is
                not finite.
        """
        return fm.final_score(self._root(scores, payload, point_id))

    __call__ = score


# ------------------------------------------------------------------------------ variables


def _parse_path(text: str, what: str) -> t.Path:
    try:
        return t.parse_json_path(text)
    except ValueError:
        raise InvalidQuery(f"failed to parse {what} {text!r}: not a valid payload key") from None


def parse_variable(name: str) -> int | t.Path:
    """A formula variable: a prefetch index for ``$score`` / ``$score[i]``, else the path
    of a payload key.

    Raises:
        InvalidQuery: another ``$`` word, or a key that does not parse, naming it.
    """
    if not name.startswith("$"):
        try:
            return t.parse_json_path(name)
        except ValueError:
            raise InvalidQuery(
                f"failed to parse variable ID {name!r}: Invalid payload variable: {name}"
            ) from None
    try:
        path = t.parse_json_path(name[1:])
    except ValueError:
        path = ()
    if path[:1] == ("score",):
        if len(path) == 1:
            return 0
        if len(path) == 2 and isinstance(path[1], int):
            return path[1]
    reason = "reserved word" if path and path[0] != "score" else "reserved variable"
    raise InvalidQuery(
        f"failed to parse variable ID {name!r}: Invalid {reason}: {name} (the reserved "
        "variables are $score and $score[i])"
    )


@dataclass(frozen=True)
class _Defaults:
    scores: dict[int, float]
    payload: dict[t.Path, Any]


def _defaults(defaults: Mapping[str, Any] | None) -> _Defaults:
    out = _Defaults({}, {})
    if defaults is None:
        return out
    if not isinstance(defaults, Mapping):
        raise InvalidQuery(f"formula defaults must be an object, got {defaults!r}")
    for key, value in defaults.items():
        if not isinstance(key, str):
            raise InvalidQuery(f"formula defaults: a key must be a string, got {key!r}")
        var = parse_variable(key)
        if isinstance(var, int):
            if not _is_number(value):
                raise InvalidQuery(
                    f"formula defaults: Score default must be a number, got {key!r}: {value!r}"
                )
            out.scores[var] = float(value)
        else:
            out.payload[var] = value
    return out


def _is_number(value: Any) -> bool:
    # A JSON number: a bool is not one.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------------- payload values


def _payload_value(payload: dict[str, Any], path: t.Path) -> Any:
    """What Qdrant's payload retriever gives: the one value, an array of several, or
    ``_MISSING``."""
    opened = bool(path) and path[-1] == t.FLATTEN
    values = values_at(payload, path, flat=not opened)
    if not values:
        return _MISSING
    return values[0] if len(values) == 1 else values


def _number(value: Any) -> float | str:
    if _is_number(value):
        try:
            return float(value)
        except OverflowError:
            pass
    return "Value is not a number"


def _geo_point(value: Any) -> tuple[float, float] | str:
    # serde reads Qdrant's GeoPoint from an object, or from a [lon, lat] array.
    if isinstance(value, list) and len(value) == 2:
        value = {"lon": value[0], "lat": value[1]}
    if not isinstance(value, dict):
        return f"invalid type: expected a geo point, got {reprlib.repr(value)}"
    for name in ("lon", "lat"):
        if name not in value:
            return f"missing field `{name}`"
        if not _is_number(value[name]):
            return f"invalid type: `{name}` is {reprlib.repr(value[name])}, expected f64"
    try:
        return request_point({"lon": value["lon"], "lat": value["lat"]}, "geo point")
    except InvalidFilter as exc:
        return str(exc)


def _timestamp(value: Any) -> float | str:
    if not isinstance(value, str):
        return "Value is not a string"
    dt = parse_datetime(value)
    if dt is None:
        return f"{value!r} is not a datetime in a supported format"
    return seconds(dt)


def seconds(dt: datetime) -> float:
    """Seconds since the epoch as Qdrant computes them: whole microseconds / 1e6."""
    return ((dt - _EPOCH) // _MICROSECOND) / 1_000_000.0


_Reader = Callable[[Any], Any]
# What each reader expects, as Qdrant's errors name it.
_KIND_NAMES: dict[_Reader, str] = {
    _number: "number",
    _geo_point: "geo point",
    _timestamp: "datetime",
}


def _reader(key: str, path: t.Path, read: _Reader, defaults: _Defaults) -> Callable[..., Any]:
    default = defaults.payload.get(path, _MISSING)
    kind = _KIND_NAMES[read]

    def fail(description: str) -> InvalidQuery:
        return InvalidQuery(
            f"Expected {kind} value for {key} in the payload and/or in the formula defaults. "
            f"Error: {description}"
        )

    def value(payload: dict[str, Any]) -> Any:
        raw = _payload_value(payload, path)
        if raw is _MISSING:
            raw = default
        if raw is _MISSING:
            raise fail("No value found in a payload nor defaults")
        result = read(raw)
        if isinstance(result, str):
            raise fail(result)
        return result

    return value


# ---------------------------------------------------------------------------- compiling


class _Compiler:
    def __init__(self, defaults: _Defaults, prepare: Callable[[t.Node], t.Node] | None):
        self.defaults = defaults
        self.prepare = prepare
        self.keys: set[str] = set()
        self.prefetches = 0

    def compile(self, expr: Any) -> _Eval:
        if isinstance(expr, float):
            return self.constant(expr)
        if isinstance(expr, str):
            return self.variable(expr)
        build = _BUILDERS.get(type(expr))
        return self.condition(expr) if build is None else build(self, expr)

    def constant(self, value: float) -> _Eval:
        if not math.isfinite(value):
            raise InvalidQuery(f"formula constant {value!r} is not a finite number")
        c = fm.to_f32(value)
        return lambda s, p, i: c

    def variable(self, name: str) -> _Eval:
        var = parse_variable(name)
        if isinstance(var, int):
            self.prefetches = max(self.prefetches, var + 1)
            fallback = self.defaults.scores.get(var, 0.0)

            def score(s: Scores, p: dict[str, Any], i: PointId) -> float:
                found = s[var] if var < len(s) else None
                return fallback if found is None else float(found)

            return score
        read = self.payload(name, var, _number)
        return lambda s, p, i: read(p)

    def payload(self, key: str, path: t.Path, read: _Reader) -> Callable[..., Any]:
        self.keys.add(key)
        return _reader(key, path, read, self.defaults)

    def condition(self, cond: Any) -> _Eval:
        node = condition_to_tree(cond)
        pred = compile_node(self.prepare(node) if self.prepare else node)
        return lambda s, p, i: 1.0 if pred(p, i) else 0.0

    def operands(self, items: list[Any]) -> list[_Eval]:
        return [self.compile(item) for item in items]


def _mult(c: _Compiler, expr: m.MultExpression) -> _Eval:
    factors = c.operands(expr.mult)

    def mult(s: Scores, p: dict[str, Any], i: PointId) -> float:
        product = 1.0
        for factor in factors:
            value = factor(s, p, i)
            if value == 0.0:
                return 0.0  # the remaining factors are not evaluated
            product *= value
        return product

    return mult


def _sum(c: _Compiler, expr: m.SumExpression) -> _Eval:
    terms = c.operands(expr.sum)

    def add(s: Scores, p: dict[str, Any], i: PointId) -> float:
        total = 0.0
        for term in terms:
            total += term(s, p, i)
        return total

    return add


def _extremum(c: _Compiler, items: list[Any], name: str) -> _Eval:
    if not items:
        raise InvalidQuery(f"`{name}` needs at least one operand")
    operands = c.operands(items)
    pick_max = name == "max"

    def fold(s: Scores, p: dict[str, Any], i: PointId) -> float:
        best = float("-inf") if pick_max else float("inf")
        for operand in operands:
            value = operand(s, p, i)
            # NaN compares false either way, so it never replaces best (Rust's f64::max).
            if value > best if pick_max else value < best:
                best = value
        return best

    return fold


def _unary(op: Callable[[float], float], field: str) -> Callable[[_Compiler, Any], _Eval]:
    def build(c: _Compiler, expr: Any) -> _Eval:
        inner = c.compile(getattr(expr, field))
        return lambda s, p, i: op(inner(s, p, i))

    return build


def _div(c: _Compiler, expr: m.DivExpression) -> _Eval:
    left, right = c.compile(expr.div.left), c.compile(expr.div.right)
    raw_default = expr.div.by_zero_default
    default = None if raw_default is None else fm.to_f32(raw_default)

    def div(s: Scores, p: dict[str, Any], i: PointId) -> float:
        numerator = left(s, p, i)
        if numerator == 0.0:
            return 0.0  # the denominator is not evaluated
        return fm.divide(numerator, right(s, p, i), default)

    return div


def _pow(c: _Compiler, expr: m.PowExpression) -> _Eval:
    base, exponent = c.compile(expr.pow.base), c.compile(expr.pow.exponent)
    return lambda s, p, i: fm.power(base(s, p, i), exponent(s, p, i))


def _geo_distance(c: _Compiler, expr: m.GeoDistance) -> _Eval:
    params = expr.geo_distance
    try:
        origin = request_point(params.origin, "geo_distance origin")
    except InvalidFilter as exc:
        raise InvalidQuery(str(exc)) from None
    read = c.payload(params.to, _parse_path(params.to, "geo_distance key"), _geo_point)
    return lambda s, p, i: haversine(origin, read(p))


def _datetime(c: _Compiler, expr: m.DatetimeExpression) -> _Eval:
    dt = parse_datetime(expr.datetime)
    if dt is None:
        raise InvalidQuery(f"failed to parse date-time {expr.datetime!r}")
    value = seconds(dt)
    return lambda s, p, i: value


def _datetime_key(c: _Compiler, expr: m.DatetimeKeyExpression) -> _Eval:
    key = expr.datetime_key
    read = c.payload(key, _parse_path(key, "datetime_key"), _timestamp)
    return lambda s, p, i: read(p)


def _decay(kind: str, field: str) -> Callable[[_Compiler, Any], _Eval]:
    def build(c: _Compiler, expr: Any) -> _Eval:
        params: m.DecayParamsExpression = getattr(expr, field)
        lam = fm.decay_lambda(kind, params.midpoint, params.scale)
        x = c.compile(params.x)
        target = None if params.target is None else c.compile(params.target)

        def value(s: Scores, p: dict[str, Any], i: PointId) -> float:
            at = x(s, p, i)
            return fm.decay(kind, at, 0.0 if target is None else target(s, p, i), lam)

        return value

    return build


_BUILDERS: dict[type, Callable[[_Compiler, Any], _Eval]] = {
    m.MultExpression: _mult,
    m.SumExpression: _sum,
    m.MaxExpression: lambda c, e: _extremum(c, e.max, "max"),
    m.MinExpression: lambda c, e: _extremum(c, e.min, "min"),
    m.NegExpression: _unary(lambda v: -v, "neg"),
    m.AbsExpression: _unary(abs, "abs"),
    m.DivExpression: _div,
    m.SqrtExpression: _unary(fm.sqrt, "sqrt"),
    m.PowExpression: _pow,
    m.ExpExpression: _unary(fm.exp, "exp"),
    m.Log10Expression: _unary(fm.log10, "log10"),
    m.LnExpression: _unary(fm.ln, "ln"),
    m.AcoshExpression: _unary(fm.acosh, "acosh"),
    m.GeoDistance: _geo_distance,
    m.DatetimeExpression: _datetime,
    m.DatetimeKeyExpression: _datetime_key,
    m.LinDecayExpression: _decay("lin", "lin_decay"),
    m.ExpDecayExpression: _decay("exp", "exp_decay"),
    m.GaussDecayExpression: _decay("gauss", "gauss_decay"),
}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc: list[str] = []
        for step in err["loc"]:
            # A tagged union repeats its tag before the field of the same name.
            if not loc or loc[-1] != str(step):
                loc.append(str(step))
        where = ".".join(loc) or "formula"
        parts.append(f"{where}: {err['msg']} (got {reprlib.repr(err['input'])})")
    return "; ".join(parts)


def compile_formula(
    formula: Any,
    defaults: Mapping[str, Any] | None = None,
    *,
    prepare: Callable[[t.Node], t.Node] | None = None,
) -> Formula:
    """Compile a ``FormulaQuery``'s formula.

    Args:
        formula: the expression: its JSON, a model of ``shoal.models.Expression``, or a mix.
        defaults: the query's ``defaults`` (values for variables: ``$score[i]``, payload
            keys).
        prepare: applied to the filter tree of each condition before it is compiled (the
            engine attaches its text indexes with it).

    Returns:
        The formula.

    Raises:
        InvalidQuery: a malformed expression, an unknown variable, a bad default or decay
            parameter, naming it.
        InvalidFilter: a malformed condition.
    """
    try:
        expr = _EXPRESSION.validate_python(formula)
    except ValidationError as exc:
        raise InvalidQuery(f"invalid formula: {_validation_message(exc)}") from None
    compiler = _Compiler(_defaults(defaults), prepare)
    root = compiler.compile(expr)
    return Formula(root, frozenset(compiler.keys), compiler.prefetches)


# ---------------------------------------------------------------------------- rescoring


def candidates(prefetches: Sequence[Sequence[tuple[PointId, float]]]) -> list[PointId]:
    """The points a formula rescores: every point of every prefetch, once each, in the order
    they first appear.

    Args:
        prefetches: each prefetch's results, ``(point id, score)`` pairs.

    Returns:
        The point ids (load their payloads for ``rescore``).
    """
    return list(dict.fromkeys(pid for results in prefetches for pid, _ in results))


def rescore(
    formula: Formula,
    prefetches: Sequence[Sequence[tuple[PointId, float]]],
    payloads: Mapping[PointId, dict[str, Any]],
    limit: int,
) -> list[tuple[PointId, float]]:
    """Score the prefetches' points with a formula, as a ``FormulaQuery`` does: a point's
    ``$score[i]`` is its score in prefetch ``i`` (absent: the default, else 0).

    Args:
        formula: the compiled formula.
        prefetches: each prefetch's results, ``(point id, score)`` pairs, in order.
        payloads: the payload of each point of ``candidates(prefetches)`` (a point missing
            here is scored with ``{}``).
        limit: how many to return.

    Returns:
        The best ``limit`` points with their formula scores, best first; ties keep the order
        of ``candidates`` (as qdrant-client's local mode does).

    Raises:
        InvalidQuery: the formula fails for one of the points (the whole query fails, as
            in Qdrant).
    """
    by_prefetch = [dict(results) for results in prefetches]
    scored = [
        (pid, formula([s.get(pid) for s in by_prefetch], payloads.get(pid, {}), pid))
        for pid in candidates(prefetches)
    ]
    scored.sort(key=lambda item: item[1], reverse=True)  # stable: ties keep their order
    return scored[:limit]


__all__ = [
    "Formula",
    "Scores",
    "candidates",
    "compile_formula",
    "parse_variable",
    "rescore",
    "seconds",
]
