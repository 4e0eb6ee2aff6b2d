"""Random formulas over random payloads: Shoal and qdrant-client's local mode agree.

Local mode (``qdrant_client/hybrid/formula.py``, scored as ``_rescore_with_formula`` does)
computes in Python floats like Shoal, so they agree on every value and every failure. Shoal
also rounds request numbers to ``f32`` as Qdrant's server does (local mode does not), so
the constants here are exact in ``f32``. Geo distances and datetimes are computed in a
different order, so values are compared to the last few bits.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm
from qdrant_client.hybrid.formula import evaluate_expression, parse_defaults, validate_expression

from shoal.errors import InvalidQuery
from shoal.filters.formula import candidates, compile_formula, rescore

QM_EXPRESSION: TypeAdapter[Any] = TypeAdapter(qm.Expression)
POINT_ID = 7

NUMBER = st.sampled_from([k / 4 for k in range(-12, 13)] + [2.0**100, -(2.0**100), 2.0**-20])
KEYS = st.sampled_from(["a", "b", "missing", "tag", "one[].v", "many[].v"])
VARIABLE = st.one_of(st.sampled_from(["$score", "$score[1]", "$score[2]"]), KEYS)
CONDITION = st.sampled_from(
    [
        {"key": "tag", "match": {"value": "x"}},
        {"has_id": [POINT_ID]},
        {"must_not": [{"key": "a", "range": {"gt": 0}}]},
    ]
)
GEO = st.fixed_dictionaries({"lon": st.floats(-180, 180), "lat": st.floats(-90, 90)})
LEAF = st.one_of(
    NUMBER,
    VARIABLE,
    CONDITION,
    st.builds(lambda o: {"geo_distance": {"origin": o, "to": "geo"}}, GEO),
    st.just({"datetime_key": "dt"}),
    st.just({"datetime": "2024-02-03T04:05:06Z"}),
)


def _nodes(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    some = st.lists(inner, max_size=3)
    decay = st.fixed_dictionaries(
        {"x": inner},
        optional={
            "target": inner,
            "scale": st.sampled_from([0.5, 1.0, 2.0, 10.0]),
            "midpoint": st.sampled_from([0.25, 0.5, 0.75]),
        },
    )
    return st.one_of(
        st.builds(lambda xs: {"mult": xs}, some),
        st.builds(lambda xs: {"sum": xs}, some),
        st.builds(lambda xs: {"max": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"min": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(
            lambda op, x: {op: x},
            st.sampled_from(["neg", "abs", "sqrt", "exp", "log10", "ln", "acosh"]),
            inner,
        ),
        st.builds(
            lambda left, right, default: {
                "div": {"left": left, "right": right}
                | ({} if default is None else {"by_zero_default": default})
            },
            inner,
            inner,
            st.none() | NUMBER,
        ),
        st.builds(lambda b, e: {"pow": {"base": b, "exponent": e}}, inner, inner),
        st.builds(
            lambda kind, params: {kind: params},
            st.sampled_from(["lin_decay", "exp_decay", "gauss_decay"]),
            decay,
        ),
    )


EXPRESSION = st.recursive(LEAF, _nodes, max_leaves=8)
VALUE = st.one_of(NUMBER, st.none(), st.just("s"), st.lists(NUMBER, max_size=2))
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "a": VALUE,
        "b": VALUE,
        "tag": st.sampled_from(["x", "y"]),
        "one": st.just([{"v": 1.5}]),
        "many": st.just([{"v": 1.5}, {"v": 2.5}]),
        "geo": GEO,
        "dt": st.sampled_from(["2024-01-02T03:04:05Z", "2023-12-31T23:59:59.5+01:00"]),
    },
)
DEFAULTS = st.fixed_dictionaries(
    {},
    optional={
        "a": NUMBER,
        "missing": NUMBER,
        "$score[2]": NUMBER,
        "geo": GEO,
        "dt": st.just("2020-05-06T07:08:09Z"),
    },
)
SCORES = st.lists(st.none() | NUMBER, min_size=3, max_size=3)


def local_mode(
    formula: Any, defaults: dict[str, Any], scores: list[float | None], payload: dict[str, Any]
) -> float:
    expression = QM_EXPRESSION.validate_python(formula)
    validate_expression(expression)
    prefetches = [{} if s is None else {POINT_ID: s} for s in scores]
    score = evaluate_expression(
        expression, POINT_ID, prefetches, payload, {}, parse_defaults(defaults)
    )
    with warnings.catch_warnings():  # as _rescore_with_formula does
        warnings.simplefilter("ignore")
        as_f32 = float(np.float32(score))
    if not math.isfinite(as_f32):
        raise ValueError(f"{score} as f32 is not finite")
    return as_f32


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(formula=EXPRESSION, defaults=DEFAULTS, scores=SCORES, payload=PAYLOAD)
def test_formula_agrees_with_local_mode(
    formula: Any, defaults: dict[str, Any], scores: list[float | None], payload: dict[str, Any]
) -> None:
    try:
        theirs: float | None = local_mode(formula, defaults, scores, payload)
    except (ValueError, OverflowError, ZeroDivisionError):
        theirs = None
    try:
        ours: float | None = compile_formula(formula, defaults)(scores, payload, POINT_ID)
    except InvalidQuery:
        ours = None
    event("fails" if ours is None else "scores")
    if theirs is None or ours is None:
        assert theirs is None and ours is None, (theirs, ours)
    else:
        assert math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-6), (ours, theirs)


# ------------------------------------------------------------ a query over prefetches

RESCORE_FORMULAS: list[Any] = [
    {"sum": ["$score", "$score[1]", {"mult": [0.5, {"key": "tag", "match": {"value": "x"}}]}]},
    {"mult": ["$score[1]", {"exp_decay": {"x": "price", "target": 10, "scale": 5}}]},
    {"div": {"left": "$score", "right": "price", "by_zero_default": -1}},
    {"key": "tag", "match": {"value": "y"}},  # ties: candidates keep their order
]


@pytest.fixture(scope="module")
def local_client() -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=qm.VectorParams(size=2, distance=qm.Distance.DOT))
    client.upsert(
        "c",
        [
            qm.PointStruct(
                id=i,
                vector=[math.cos(i), math.sin(i)],
                payload={"tag": "xy"[i % 2], "price": float(i % 4) * 4},
            )
            for i in range(24)
        ],
    )
    return client


@pytest.mark.parametrize("formula", RESCORE_FORMULAS)
def test_rescoring_prefetches_agrees_with_local_mode(
    local_client: QdrantClient, formula: Any
) -> None:
    prefetch = [
        qm.Prefetch(query=[1.0, 0.0], limit=8),
        qm.Prefetch(query=[0.0, 1.0], limit=8),
    ]
    query = qm.FormulaQuery(formula=QM_EXPRESSION.validate_python(formula))
    theirs = local_client.query_points("c", prefetch=prefetch, query=query, limit=5).points
    results = [
        [(p.id, p.score) for p in local_client.query_points("c", query=p.query, limit=8).points]
        for p in prefetch
    ]
    ids = candidates(results)
    payloads = {r.id: r.payload or {} for r in local_client.retrieve("c", ids)}
    ours = rescore(compile_formula(formula), results, payloads, limit=5)
    assert [pid for pid, _ in ours] == [p.id for p in theirs]
    assert [s for _, s in ours] == pytest.approx([p.score for p in theirs], rel=1e-6)
    assert len(set(ids)) == len(ids) and set(ids) == {pid for r in results for pid, _ in r}
