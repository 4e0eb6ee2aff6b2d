"""Calls of every public client method with malformed arguments, as hypothesis strategies.

The methods are found by introspection of ``AsyncClient``, so a new method is called
without a change here: each call gives most arguments a plausible value (from ``VALID`` by
parameter name, or the parameter's default) so that the call gets past its first check, and
one or two a malformed one (``junk``). A parameter with no entry in ``VALID`` and no
default always gets junk.
"""

from __future__ import annotations

import inspect
import math
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from shoal import AsyncClient
from shoal import models as m

NAN, INF = math.nan, math.inf
COLLECTION = "c"  # exists, 2-d Dot vectors, points 1 and 2 with payloads {"a": 1}, {"a": 2}


def public_methods() -> dict[str, inspect.Signature]:
    """Every public method of AsyncClient (the constructor is tested on its own)."""
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(AsyncClient, inspect.isfunction)
        if not name.startswith("_")
    }


def nested_list(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def nested_dict(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def nested_filter(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"must": [{"key": "a", "match": {"value": 1}}]}
    for _ in range(levels - 1):
        value = {"must": [value]}
    return value


def cyclic_list() -> list[Any]:
    value: list[Any] = [1.0]
    value.append(value)
    return value


def cyclic_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["b"] = value
    return value


def point(pid: Any, vector: Any = (1.0, 0.5), payload: Any = None) -> dict[str, Any]:
    return {
        "id": pid,
        "vector": list(vector) if isinstance(vector, tuple) else vector,
        **({} if payload is None else {"payload": payload}),
    }


NAN_RANGE = {"must": [{"key": "a", "range": {"gt": NAN}}]}

# Malformed values, each a function (a fresh object per call: a call may keep or change it).
SPECIAL: list[Callable[[], Any]] = [
    lambda: None,
    lambda: True,
    lambda: -1,
    lambda: 2**63,
    lambda: 2**64,
    lambda: 2**70,
    lambda: -(2**70),
    lambda: 10**400,
    lambda: NAN,
    lambda: INF,
    lambda: -INF,
    lambda: 1e308,
    lambda: "",
    lambda: "bogus",
    lambda: "\ud800",
    lambda: "a\udfffb",
    lambda: "a\x00b",
    lambda: ".",
    lambda: "..",
    lambda: "a/b",
    lambda: "Cosine",
    lambda: "a == ",
    lambda: "a == 1 and \ud800 == 2",
    lambda: b"bytes",
    lambda: object(),
    lambda: np.float64(NAN),
    lambda: np.int64(7),
    lambda: np.array([1.0, NAN]),
    lambda: np.ones((2, 2)),
    lambda: np.array(["a", "b"]),
    lambda: np.ones(2, dtype=bool),
    lambda: uuid.UUID(int=5),
    lambda: {1: "x"},
    lambda: {"type": "bogus"},
    lambda: {"\ud800": 1},
    lambda: {"must": "bogus"},
    lambda: NAN_RANGE,
    lambda: {"must": [{"key": "a", "match": {"value": 2**70}}]},
    lambda: {"must": [{"key": "\ud800", "match": {"value": 1}}]},
    lambda: {"size": 2, "distance": "Bogus"},
    lambda: {"size": -1, "distance": "Dot"},
    lambda: {"m": NAN},
    lambda: [NAN, 1.0],
    lambda: [INF, 1.0],
    lambda: [True, 1.0],
    lambda: ["1", "2"],
    lambda: [[1.0, 2.0]],
    lambda: [1.0],
    lambda: [2**70],
    lambda: [-1],
    lambda: [None],
    lambda: ["\ud800"],
    lambda: [point(1, payload={1: "x"})],
    lambda: [point(1, payload=nested_dict(300))],
    lambda: [point(1, payload={"x": 2**70})],
    lambda: [point(2**70)],
    lambda: [point(1, (NAN, 1.0))],
    lambda: [point(1, {"\ud800": [1.0, 1.0]})],
    lambda: [point(1, [True, 1.0])],
    lambda: [point(1, [10**400, 1.0])],
    lambda: [{"id": 1}],
    lambda: [{"upsert": {"points": [point(1, (NAN, 0.0))]}}],
    lambda: [{"delete": {"points": [2**70]}}],
    lambda: [{"set_payload": {"payload": {1: 2}, "points": [1]}}],
    lambda: [{"bogus": 1}],
    lambda: [{"query": [NAN, 1.0]}],
    lambda: [{"query": 2**70}],
    lambda: [{"query": [1.0, 1.0], "score_threshold": NAN}],
    lambda: {"1": [1.0, 2.0]},
    lambda: {"": np.ones((2, 2))},
    lambda: nested_list(1000),
    lambda: nested_dict(1000),
    lambda: nested_dict(130),
    lambda: nested_filter(40),
    lambda: nested_filter(300),
    lambda: cyclic_list(),
    lambda: cyclic_dict(),
    lambda: iter([1, None]),
    lambda: m.Filter(must=[m.FieldCondition(key="a", range=m.Range(gt=NAN))]),
    lambda: m.Filter(must=[m.FieldCondition(key="a", match=m.MatchValue(value=2**70))]),
    lambda: m.PointStruct(id=1, vector=[NAN, 1.0]),
    lambda: [m.PointStruct(id=2**70, vector=[1.0, 1.0])],
    lambda: [m.PointStruct(id="not-a-uuid", vector=[1.0, 1.0])],
    lambda: m.Batch(ids=[1], vectors=[[NAN, 1.0]]),
    lambda: m.Batch(ids=[1, 2], vectors=[[1.0, 1.0]]),
    lambda: m.PointIdsList(points=[2**70]),
    lambda: m.FilterSelector(filter="a == \ud800"),
    lambda: [m.QueryRequest(query=2**70)],
    lambda: [m.QueryRequest(query=[NAN, 1.0])],
    lambda: [m.QueryRequest(query=[1.0, 1.0], limit=2**70)],
    lambda: m.NearestQuery(nearest=[INF, 1.0]),
    lambda: m.OrderBy(key="a", start_from=NAN),
    lambda: m.SearchParams(hnsw_ef=2**70),
    lambda: m.HnswConfigDiff(m=2**70),
    lambda: m.VectorParams(size=2**70, distance="Dot"),
    lambda: [m.UpsertOperation(upsert=m.PointsList(points=[m.PointStruct(id=1, vector=[1.0])]))],
]

_text = st.text(max_size=8)
_special = st.sampled_from(SPECIAL).map(lambda make: make())
_leaf = st.one_of(
    _special,
    _special,
    _special,
    st.integers(),
    st.floats(),
    _text,
    st.binary(max_size=4),
)
junk = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_text, st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def _valid_pool() -> dict[str, list[Callable[[], Any]]]:
    vp = m.VectorParams(size=2, distance=m.Distance.DOT)
    flt = m.Filter(must=[m.FieldCondition(key="a", match=m.MatchValue(value=1))])
    return {
        "collection_name": [lambda: COLLECTION, lambda: "missing"],
        "vectors_config": [lambda: vp, lambda: {"v": vp}],
        "points": [
            lambda: [m.PointStruct(id=3, vector=[1.0, 2.0], payload={"k": 1})],
            lambda: [1, 2],
            lambda: m.Batch(ids=[4], vectors=[[1.0, 0.0]]),
        ],
        "points_selector": [lambda: [1], lambda: flt, lambda: "a == 1"],
        "payload": [lambda: {"k": "v"}, lambda: [{"k": 1}]],
        "key": [lambda: None, lambda: "a.b"],
        "keys": [lambda: ["a"]],
        "update_operations": [
            lambda: [
                m.UpsertOperation(
                    upsert=m.PointsList(points=[m.PointStruct(id=5, vector=[1.0, 1.0])])
                )
            ]
        ],
        "field_name": [lambda: "a"],
        "field_schema": [lambda: "keyword", lambda: {"type": "integer"}],
        "ids": [lambda: [1, 2], lambda: None],
        "scroll_filter": [lambda: flt, lambda: "a == 1"],
        "count_filter": [lambda: flt, lambda: "a == 1"],
        "query_filter": [lambda: flt, lambda: "a == 1"],
        "query": [lambda: [1.0, 0.5], lambda: 1],
        "requests": [lambda: [m.QueryRequest(query=[1.0, 0.0], limit=1)]],
        "vectors": [lambda: np.ones((2, 2)), lambda: [[1.0, 2.0]]],
        "limit": [lambda: 5],
        "wait": [lambda: True, lambda: False],
    }


VALID = _valid_pool()


class Call:
    """A method's name and keyword arguments; its repr is bounded (hypothesis prints it, and
    an argument may be 1000 levels deep or contain itself)."""

    def __init__(self, name: str, kwargs: dict[str, Any]) -> None:
        self.name, self.kwargs = name, kwargs

    def __repr__(self) -> str:
        return describe(self.name, self.kwargs)


@st.composite
def calls(draw: st.DrawFn, single: bool = False) -> Call:
    """A method of AsyncClient and keyword arguments for it, one or two of them junk.

    Args:
        single: exactly one argument junk, and the others free of problems (no missing
            collection): the call has one thing wrong, so every deployment must report it.
    """
    signatures = public_methods()
    name = draw(st.sampled_from(sorted(signatures)))
    params = [
        p
        for p in signatures[name].parameters.values()
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL
    ]
    kwargs: dict[str, Any] = {}
    if not params:
        return Call(name, kwargs)
    names = [p.name for p in params]
    bad = {draw(st.sampled_from(names))}
    if not single and draw(st.integers(0, 4)) == 0:  # now and then a second one
        bad.add(draw(st.sampled_from(names)))
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            if p.name in bad:
                kwargs.update(draw(st.dictionaries(_text, junk, max_size=2)))
            continue
        pool = [*VALID.get(p.name, [])]
        if single and p.name == "collection_name":
            pool = pool[:1]
        if p.default is not inspect.Parameter.empty:
            pool.append(lambda default=p.default: default)
        if p.name in bad or not pool:
            kwargs[p.name] = draw(junk)
        else:
            kwargs[p.name] = draw(st.sampled_from(pool))()
    return Call(name, kwargs)


def describe(name: str, kwargs: dict[str, Any]) -> str:
    """The call as text for a failure message (bounded: arguments can be huge or cyclic)."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother = 3, 60, 60
    return f"{name}({', '.join(f'{k}={shown.repr(v)}' for k, v in kwargs.items())})"
