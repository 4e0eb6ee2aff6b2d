"""The ``order_by``, ``sample`` and ``relevance_feedback`` query kinds answer as in
qdrant-client's local mode, over every transport (embedded, in-process ASGI, real socket):
payload order (integers, floats, datetimes, arrays; direction, ``start_from``, filters,
paging) as a query, inside a prefetch and over prefetches, with each point's
``order_value``; random samples (distinct points passing the filter, limit honoured); and
relevance feedback's naive strategy on every distance (examples by vector and by point id,
left out of the answer). Scroll's ``order_by`` on a datetime key pages to the end with
qdrant-client's own loop. Bad input is refused naming the bad value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.local import datetime_utils
from qdrant_client.local.order_by import to_order_value
from test_recommend_vs_qdrant_local import in_prefetches
from test_sparse_vs_qdrant_local import assert_same_ranking
from transports import TRANSPORTS, beside_local_mode, shoal_client

from shoal import Client
from shoal.errors import InvalidQuery, PointNotFound, WrongVectorSize

N, DIM = 120, 5
RNG = np.random.default_rng(2121)
T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _when(i: int) -> str:
    # Datetimes in several spellings (offsets, fractions, naive), some tied.
    at = T0 + timedelta(hours=int(RNG.integers(0, 400)), microseconds=int(RNG.integers(0, 3)))
    if i % 3 == 0:
        return at.isoformat()
    if i % 3 == 1:
        return at.astimezone(timezone(timedelta(hours=5))).isoformat()
    return at.replace(tzinfo=None).isoformat()


POINTS = [
    qm.PointStruct(
        id=i,
        vector={"d": RNG.standard_normal(DIM).round(3).tolist()},
        payload={
            "n": int(RNG.integers(0, 10)),  # ties
            "f": round(float(RNG.random()), 4),
            "d": _when(i),
            # Arrays, a repeated element, an empty one, a key missing on some points.
            **({"arr": [int(v) for v in RNG.integers(0, 20, 3)] + [7, 7]} if i % 4 else {}),
            "g": i % 3,
        },
    )
    for i in range(N)
]
POINTS[5].payload["arr"] = []  # type: ignore[index]
INDEXES = {"n": "integer", "f": "float", "d": "datetime", "arr": "integer"}
G1 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=1))])
IDS = qm.Filter(must=[qm.HasIdCondition(has_id=[1, 2, 3])])
V = RNG.standard_normal((4, DIM)).round(3).tolist()
DISTANCES = (qm.Distance.COSINE, qm.Distance.DOT, qm.Distance.EUCLID, qm.Distance.MANHATTAN)


def create(client: Any, distance: qm.Distance = qm.Distance.COSINE) -> None:
    client.create_collection(
        "c", vectors_config={"d": qm.VectorParams(size=DIM, distance=distance)}
    )
    client.upsert("c", POINTS)
    if isinstance(client, Client):  # local mode orders without an index (and warns)
        for key, kind in INDEXES.items():
            client.create_payload_index("c", key, kind)


def order(key: str, direction: str | None = None, start: Any = None) -> qm.OrderByQuery:
    return qm.OrderByQuery(order_by=qm.OrderBy(key=key, direction=direction, start_from=start))


ORDERS: list[dict[str, Any]] = [
    {"query": qm.OrderByQuery(order_by="n"), "limit": 15},
    {"query": order("n", "desc"), "limit": 7, "offset": 4, "query_filter": G1},
    {"query": order("n", "asc", 5), "limit": 12},
    {"query": order("f", "desc", 0.5), "limit": 9},
    {"query": order("f"), "limit": 5, "with_vectors": True},
    {"query": order("d"), "limit": 20},
    {"query": order("d", "desc", T0 + timedelta(hours=200)), "limit": 10, "query_filter": G1},
    {"query": order("d", "asc", datetime(2024, 3, 5, 12)), "limit": 8},  # naive: UTC
    {"query": order("arr"), "limit": 30},  # a point once per distinct element
    {"query": order("arr", "desc"), "limit": 10, "with_payload": ["n"]},
    {"query": order("n"), "limit": 10, "query_filter": IDS},
    {  # a prefetch ordered by payload, re-ranked by a vector
        "prefetch": qm.Prefetch(query=order("f", "desc"), limit=30),
        "query": V[0],
        "using": "d",
        "limit": 6,
    },
    {  # ordered by payload among a vector search's candidates
        "prefetch": qm.Prefetch(query=V[1], using="d", limit=25),
        "query": order("n", "desc"),
        "limit": 10,
        "offset": 2,
    },
    {  # two prefetches, one ordered, fused
        "prefetch": [
            qm.Prefetch(query=order("d"), limit=15, filter=G1),
            qm.Prefetch(query=V[2], using="d", limit=15),
        ],
        "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
        "limit": 10,
    },
]


def _shown(points: list[Any]) -> list[tuple[Any, ...]]:
    return [(p.id, p.score, p.order_value, p.payload) for p in points]


def compare_orders(ours: Client, theirs: QdrantClient, what: str) -> None:
    for kwargs in ORDERS:
        want = theirs.query_points("c", **kwargs).points
        got = ours.query_points("c", **kwargs).points
        if isinstance(kwargs["query"], qm.OrderByQuery):
            assert _shown(got) == _shown(want), (what, kwargs)
            assert all(p.version == 0 for p in got), kwargs  # as Qdrant's
            for g, w in zip(got, want, strict=True):
                if kwargs.get("with_vectors"):
                    assert np.allclose(g.vector["d"], w.vector["d"], atol=1e-5), kwargs
        else:
            assert_same_ranking(got, want, f"{what}: {kwargs}")


def test_order_by_queries_agree_with_local_mode_embedded(tmp_path: Path) -> None:
    with beside_local_mode("embedded", tmp_path, create) as (ours, theirs):
        compare_orders(ours, theirs, "embedded")


def _matching(client: Any, flt: qm.Filter | None) -> set[Any]:
    return {r.id for r in client.scroll("c", scroll_filter=flt, limit=N + 1)[0]}


def check_samples(ours: Client) -> None:
    """Samples are distinct points that pass the filter, as many as asked for (or as
    there are); each is scored 1.0, as Qdrant's."""
    g1 = _matching(ours, G1)
    for flt, limit, pool in ((None, 10, set(range(N))), (G1, 12, g1), (G1, 100, g1)):
        kwargs = {"query_filter": flt, "limit": limit}
        points = ours.query_points("c", query=qm.SampleQuery(sample="random"), **kwargs).points
        found = [p.id for p in points]
        assert len(found) == len(set(found)) == min(limit, len(pool)), (flt, limit)
        assert set(found) <= pool
        assert all(p.score == 1.0 and p.order_value is None for p in points)
    everything = ours.query_points("c", query=qm.SampleQuery(sample="random"), limit=N + 5)
    assert sorted(p.id for p in everything.points) == list(range(N))
    # Random: 20 draws of 10 of 120 points are not all the same.
    draws = {
        tuple(p.id for p in ours.query_points("c", query={"sample": "random"}, limit=10).points)  # type: ignore[arg-type]
        for _ in range(20)
    }
    assert len(draws) > 1
    # Over a prefetch: drawn among its candidates only.
    prefetch = qm.Prefetch(query=V[3], using="d", limit=20)
    pool_ids = {p.id for p in ours.query_points("c", query=V[3], using="d", limit=20).points}
    over = ours.query_points("c", prefetch=prefetch, query=qm.SampleQuery(sample="random"), limit=8)
    assert len({p.id for p in over.points}) == 8 and {p.id for p in over.points} <= pool_ids
    # Inside a prefetch, re-ranked by a vector: the ranking of what was drawn.
    inner = qm.Prefetch(query=qm.SampleQuery(sample="random"), limit=N)  # every point
    ranked = ours.query_points("c", prefetch=inner, query=V[0], using="d", limit=5).points
    plain = ours.query_points("c", query=V[0], using="d", limit=5).points
    assert [p.id for p in ranked] == [p.id for p in plain]


def test_samples_are_distinct_points_passing_the_filter_embedded(tmp_path: Path) -> None:
    with beside_local_mode("embedded", tmp_path, create) as (ours, theirs):
        check_samples(ours)
        # Local mode's too: the whole collection drawn is the same set.
        want = theirs.query_points("c", query=qm.SampleQuery(sample="random"), limit=N + 5)
        got = ours.query_points("c", query=qm.SampleQuery(sample="random"), limit=N + 5)
        assert sorted(p.id for p in got.points) == sorted(p.id for p in want.points)


# ------------------------------------------------------------- relevance feedback


def feedback(target: Any, items: list[tuple[Any, float]], a: float, b: float, c: float) -> Any:
    return qm.RelevanceFeedbackQuery(
        relevance_feedback=qm.RelevanceFeedbackInput(
            target=target,
            feedback=[qm.FeedbackItem(example=e, score=s) for e, s in items],
            strategy=qm.NaiveFeedbackStrategy(naive=qm.NaiveFeedbackStrategyParams(a=a, b=b, c=c)),
        )
    )


FEEDBACK = [
    feedback(V[0], [(3, 0.9), (V[1], 0.2), (7, 0.5)], 1.0, 1.5, 0.7),
    feedback(4, [(V[2], 0.1), (11, 0.8)], 0.5, 0.0, 2.0),  # target by id, b = 0
    feedback(V[3], [(1, 0.4), (2, 0.4)], 1.0, 1.0, 1.0),  # equal scores: no pair
    feedback(V[1], [], 2.0, 1.0, 1.0),  # no feedback: the target alone
    feedback(V[2], [(5, -0.3), (6, 0.6), (V[0], 1.2), (9, 0.0)], 0.2, 2.0, -1.5),
]


def compare_feedback(ours: Client, theirs: QdrantClient, what: str) -> None:
    calls: list[dict[str, Any]] = []
    for q in FEEDBACK:
        calls.append({"query": q, "using": "d", "limit": 8})
        calls.append({"query": q, "using": "d", "limit": 4, "offset": 3, "query_filter": G1})
    calls += [
        {"query": FEEDBACK[0], "using": "d", "limit": 5, "with_vectors": True},
        *in_prefetches(FEEDBACK[1], FEEDBACK[4], V[0]),
    ]
    for kwargs in calls:
        want = theirs.query_points("c", **kwargs).points
        got = ours.query_points("c", **kwargs).points
        assert_same_ranking(got, want, f"{what}: {kwargs}")
        if "prefetch" not in kwargs:  # points named by id are left out
            assert not {p.id for p in got} & _mentioned(kwargs["query"]), kwargs


def _mentioned(q: Any) -> set[Any]:
    body = q.relevance_feedback
    ids = {body.target} if isinstance(body.target, int) else set()
    return ids | {item.example for item in body.feedback if isinstance(item.example, int)}


@pytest.mark.parametrize("distance", DISTANCES)
def test_relevance_feedback_agrees_with_local_mode_embedded(
    distance: qm.Distance, tmp_path: Path
) -> None:
    with beside_local_mode("embedded", tmp_path, create, distance) as (ours, theirs):
        compare_feedback(ours, theirs, str(distance))


@pytest.mark.parametrize("transport", TRANSPORTS[1:])
def test_query_kinds_agree_with_local_mode_served(transport: str, tmp_path: Path) -> None:
    with beside_local_mode(transport, tmp_path, create, qm.Distance.EUCLID) as (ours, theirs):
        compare_orders(ours, theirs, transport)
        check_samples(ours)
        compare_feedback(ours, theirs, transport)


# ------------------------------------------------------- scroll in datetime order


def scroll_all_with_key(client: Any, key: str) -> list[Any]:
    """qdrant-client's own paging loop over ``order_by`` (its congruence test
    ``test_scroll_order_by.py``): resume from the last ``order_value``, leaving out the
    points already seen at that value. It ends only if ``order_value`` is what
    ``to_order_value`` makes of the payload (for datetimes: integer microseconds)."""
    records: list[Any] = []
    last_value: Any = None
    last_ids: list[Any] = []
    for _ in range(N):  # bounded: a loop that does not end fails instead of hanging
        start = datetime_utils.parse(last_value) if isinstance(last_value, str) else last_value
        page, next_page = client.scroll(
            "c",
            limit=20,
            order_by=qm.OrderBy(key=key, start_from=start),
            scroll_filter=qm.Filter(must_not=[qm.HasIdCondition(has_id=last_ids)]),
        )
        assert next_page is None
        if not page:
            return records
        if last_value != page[-1].order_value:
            last_value, last_ids = page[-1].order_value, []
        for record in page:
            values = record.payload[key]
            values = values if isinstance(values, list) else [values]
            if last_value in [to_order_value(v) for v in values]:
                last_ids.append(record.id)
        records.extend(page)
    raise AssertionError(f"scrolling by {key} did not end")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("key", ["d", "n", "f", "arr"])
def test_qdrant_clients_order_by_paging_ends_and_agrees(
    transport: str, key: str, tmp_path: Path
) -> None:
    with beside_local_mode(transport, tmp_path, create) as (ours, theirs):
        got, want = scroll_all_with_key(ours, key), scroll_all_with_key(theirs, key)
        assert [(r.id, r.order_value) for r in got] == [(r.id, r.order_value) for r in want]
        if key == "d":
            assert all(type(r.order_value) is int for r in got)  # microseconds


def test_order_value_of_a_datetime_is_its_microseconds(tmp_path: Path) -> None:
    with shoal_client("embedded", tmp_path) as ours:
        create(ours)
        (first,), _ = ours.scroll("c", order_by=qm.OrderBy(key="d"), limit=1)
        when = datetime_utils.parse(first.payload["d"])  # type: ignore[index]
        assert first.order_value == to_order_value(when)
        assert first.order_value % 1_000_000 in (0, 1, 2)  # whole hours plus 0-2 µs


# ------------------------------------------------------------------- bad input

BAD: list[tuple[Any, type[Exception], str]] = [
    (qm.OrderByQuery(order_by="g"), InvalidQuery, "No range index for `order_by` key: `g`"),
    (order("missing"), InvalidQuery, "`missing`"),
    ({"sample": "loudest"}, InvalidQuery, "loudest"),
    (feedback(V[0], [(99999, 0.5)], 1, 1, 1), PointNotFound, "99999"),
    (feedback([1.0, 2.0], [], 1, 1, 1), WrongVectorSize, "2"),
    (feedback(V[0], [(1, 0.5)], 1, -1, 1), InvalidQuery, r"naive\.b must be a number >= 0"),
    (
        {"relevance_feedback": {"target": V[0], "feedback": [], "strategy": {"eager": {}}}},
        InvalidQuery,
        "eager",
    ),
    (
        {"relevance_feedback": {"feedback": [], "strategy": {"naive": {"a": 1, "b": 1, "c": 1}}}},
        InvalidQuery,
        "needs a target",
    ),
    (
        {
            "relevance_feedback": {
                "target": V[0],
                "feedback": [{"example": 1}],
                "strategy": {"naive": {"a": 1, "b": 1, "c": 1}},
            }
        },
        InvalidQuery,
        "a feedback item must be",
    ),
]


@pytest.mark.parametrize("transport", TRANSPORTS[:2])
def test_bad_query_kinds_are_refused_naming_them(transport: str, tmp_path: Path) -> None:
    with shoal_client(transport, tmp_path) as ours:
        create(ours)
        for query, error, names in BAD:
            with pytest.raises(error, match=names):
                ours.query_points("c", query=query, using="d")


@pytest.mark.parametrize("transport", TRANSPORTS[:2])
def test_scroll_order_by_needs_a_range_index(transport: str, tmp_path: Path) -> None:
    with shoal_client(transport, tmp_path) as ours:
        create(ours)
        ours.create_payload_index("c", "kw", "keyword")
        for key in ("g", "kw", "nowhere"):
            with pytest.raises(InvalidQuery, match=f"No range index for `order_by` key: `{key}`"):
                ours.scroll("c", order_by=key)


def test_integers_beyond_2_53_order_exactly(tmp_path: Path) -> None:
    """The index holds numbers as float64, which rounds these: they are read from the
    payloads, and order (and show) as in local mode."""
    big = 2**60
    points = [
        qm.PointStruct(
            id=i,
            vector={"d": [1.0, 0.0, 0.0, 0.0, float(i)]},
            payload={"big": big + i % 6, "arr": [big + i % 4, big - 1]},
        )
        for i in range(30)
    ]
    theirs = QdrantClient(":memory:")
    with shoal_client("embedded", tmp_path) as ours:
        for client in (theirs, ours):
            dot = qm.VectorParams(size=DIM, distance=qm.Distance.DOT)
            client.create_collection("c", vectors_config={"d": dot})
            client.upsert("c", points)
        ours.create_payload_index("c", "big", "integer")
        ours.create_payload_index("c", "arr", "integer")
        for query in (order("big", "desc"), order("big", "asc", big + 3), order("arr")):
            want = theirs.query_points("c", query=query, limit=25).points
            got = ours.query_points("c", query=query, limit=25).points
            assert _shown(got) == _shown(want), query
        top = ours.query_points("c", query=order("big", "desc"), limit=1).points[0]
        assert top.order_value == big + 5 and type(top.order_value) is int
    theirs.close()


def test_relevance_feedback_on_sparse_vectors_scores_by_dot_products(tmp_path: Path) -> None:
    """Local mode has no sparse feedback; Qdrant's formula with the sparse similarity (the
    dot product, 0 where no index is shared), computed by hand."""
    rows = {
        1: {0: 1.0, 2: 0.5},
        2: {1: 2.0},
        3: {0: 0.5, 1: 0.5},
        4: {2: 1.0, 3: 1.0},
        5: {3: 3.0},
    }

    def sv(row: dict[int, float]) -> qm.SparseVector:
        return qm.SparseVector(indices=list(row), values=list(row.values()))

    def dot(x: dict[int, float], y: dict[int, float]) -> float:
        return sum(v * y.get(i, 0.0) for i, v in x.items())

    target = {0: 1.0, 3: 0.5}
    query = feedback(sv(target), [(1, 0.9), (2, 0.3)], 0.5, 2.0, 3.0)
    with shoal_client("embedded", tmp_path) as ours:
        sparse = {"s": qm.SparseVectorParams()}
        ours.create_collection("c", vectors_config={}, sparse_vectors_config=sparse)
        ours.upsert("c", [qm.PointStruct(id=i, vector={"s": sv(r)}) for i, r in rows.items()])
        got = ours.query_points("c", query=query, using="s", limit=10).points
    weight = (0.9 - 0.3) ** 2.0 * 3.0
    want = {
        i: 0.5 * dot(target, r) + weight * (dot(rows[1], r) - dot(rows[2], r))
        for i, r in rows.items()
        if i not in (1, 2)  # the examples named by id
    }
    assert [p.id for p in got] == sorted(want, key=lambda i: -want[i])
    assert [p.score for p in got] == pytest.approx(sorted(want.values(), reverse=True), rel=1e-5)


def test_a_sample_is_drawn_whatever_the_offset(tmp_path: Path) -> None:
    """As Qdrant's server and local mode: ``offset`` does not shrink a sample (qdrant-client's
    ``test_random_sampling``)."""
    with shoal_client("embedded", tmp_path) as ours:
        create(ours)
        points = ours.query_points("c", query=qm.SampleQuery(sample="random"), limit=N, offset=10)
        assert sorted(p.id for p in points.points) == list(range(N))


@pytest.mark.parametrize("transport", TRANSPORTS[:2])
def test_a_query_without_a_vector_is_a_scroll_as_in_local_mode(
    transport: str, tmp_path: Path
) -> None:
    """No ``query``: points in id order scored 1.0 (Qdrant answers it by a scroll), and on a
    collection of named vectors no ``using`` is needed."""
    with beside_local_mode(transport, tmp_path, create) as (ours, theirs):
        for kwargs in ({"limit": 7}, {"limit": 5, "offset": 3, "query_filter": G1}):
            want = theirs.query_points("c", **kwargs).points
            got = ours.query_points("c", **kwargs).points
            assert _shown(got) == _shown(want), kwargs
        with pytest.raises(InvalidQuery, match="Not existing vector name error: 'zz'"):
            ours.query_points("c", using="zz")
