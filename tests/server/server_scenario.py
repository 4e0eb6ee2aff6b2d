"""One scenario of client calls, run on any Shoal client (sync or async, any transport).

Each step is a method name with its arguments; the runner records every result, or the
error's class, message, status and attributes, in a plain-JSON form so that runs on
different transports compare with ``==``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel

from shoal import models as m
from shoal.errors import ShoalError

NAME = "congruence"
DIM = 4
UUIDS = [
    "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
    "0E4F5D6A-1B2C-4D3E-8F90-A1B2C3D4E5F6",  # upper case: comes back canonical lowercase
    "11111111-2222-4333-8444-555555555555",
]


def vec(i: int) -> list[float]:
    return [math.sin(i + k) + 1.5 for k in range(DIM)]


COLORS = ["red", "green", "blue"]
POINTS = [
    m.PointStruct(
        id=i,
        vector=vec(i),
        payload={"color": COLORS[i % 3], "n": i, "tags": ["a", "b"][: i % 3], "meta": {"k": i}},
    )
    for i in range(1, 9)
]
POINTS.append(m.PointStruct(id=9, vector=vec(9)))  # no payload: comes back as {}
BATCH = m.Batch(
    ids=list(UUIDS),
    vectors=[vec(10 + i) for i in range(3)],
    payloads=[{"color": "red", "n": 100}, None, {"color": "blue", "n": 0.5}],
)
RED = m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))])
N_BIG = m.Filter(must=[m.FieldCondition(key="n", range=m.Range(gte=4))])

# (method, args, kwargs); "scroll_all" pages through a whole scroll.
Step = tuple[str, tuple[Any, ...], dict[str, Any]]


def steps() -> list[Step]:
    def s(method: str, *args: Any, **kwargs: Any) -> Step:
        return (method, args, kwargs)

    return [
        s("collection_exists", NAME),
        s("create_collection", NAME, m.VectorParams(size=DIM, distance=m.Distance.COSINE)),
        s("create_collection", NAME, m.VectorParams(size=DIM, distance=m.Distance.COSINE)),
        s("collection_exists", NAME),
        s("upsert", NAME, POINTS),
        s("upsert", NAME, BATCH),
        s("get_collection", NAME),
        s("get_collections"),
        s("retrieve", NAME, [1, UUIDS[1], 9, 12345]),
        s("retrieve", NAME, [2, 3], with_payload=["color"], with_vectors=True),
        s("retrieve", NAME, [4], with_payload=False),
        s("scroll_all", NAME, limit=3),
        s("scroll", NAME, scroll_filter=RED, limit=2, with_vectors=True),
        s("scroll", NAME, order_by="n", limit=4),  # no range index: refused
        s("count", NAME),
        s("count", NAME, count_filter=N_BIG),
        s("count", NAME, count_filter="color == 'blue'"),
        s("query_points", NAME, vec(3), limit=4),
        # A numpy query stays an array up to the engine, or is sent as a JSON list.
        s("query_points", NAME, np.asarray(vec(3), dtype=np.float32), limit=4),
        s("query_points", NAME, m.NearestQuery(nearest=np.asarray(vec(2))), limit=2),
        s("query_points", NAME, vec(3), query_filter=RED, with_vectors=True, limit=3),
        s("query_points", NAME, vec(3), query_filter="n > 2 and color != 'x'", limit=3),
        s("query_points", NAME, vec(3), query_filter="color in ['red', 'blue']", limit=3),
        s("query_points", NAME, 5, limit=3, with_payload=False),
        s("query_points", NAME, UUIDS[0], limit=2, offset=1),
        s("query_points", NAME, vec(1), score_threshold=0.9, limit=20),
        s(
            "query_batch_points",
            NAME,
            [
                m.QueryRequest(query=vec(1), limit=2, with_payload=True),
                m.QueryRequest(query=vec(2), filter=N_BIG, limit=3),
                m.QueryRequest(query=7, limit=1),
            ],
        ),
        s("set_payload", NAME, {"extra": True}, [1, 2]),
        s("set_payload", NAME, {"deep": 1}, [3], key="meta"),
        s("set_payload", NAME, {"flag": "f"}, RED),
        s("overwrite_payload", NAME, {"only": 1}, [4]),
        s("delete_payload", NAME, ["color", "meta.k"], [5, 6]),
        s("clear_payload", NAME, [7]),
        s("retrieve", NAME, [1, 2, 3, 4, 5, 6, 7]),
        s("create_payload_index", NAME, "color", m.PayloadSchemaType.KEYWORD),
        s("create_payload_index", NAME, "n", "integer"),
        s("facet", NAME, "color"),
        s("facet", NAME, "n", facet_filter=N_BIG, limit=2, exact=True),
        s("facet", NAME, "tags"),  # no index: refused
        s("scroll", NAME, order_by="n", limit=4),
        s("scroll", NAME, order_by={"key": "n", "direction": "desc", "start_from": 5}, limit=4),
        # A sample as large as the collection draws every point: the same on every run.
        s("search_matrix_pairs", NAME, sample=100, limit=2),
        s("search_matrix_offsets", NAME, query_filter=RED, sample=50),
        s("search_matrix_pairs", NAME, sample=1),
        s("get_collection", NAME),
        s("delete_payload_index", NAME, "n"),
        s("get_collection", NAME),
        s("upsert", NAME, [m.PointStruct(id=50, vector=vec(50))], wait=False),
        s("upsert", NAME, [m.PointStruct(id=51, vector=vec(51))]),
        s("count", NAME),
        s("delete", NAME, [50, 51, 999]),
        s("delete", NAME, m.FilterSelector(filter=N_BIG)),
        s("delete", NAME, "color == 'green'"),
        s("scroll_all", NAME, limit=100),
        # Errors: same class, message and status on every transport.
        s("get_collection", "missing"),
        s("upsert", "missing", POINTS[:1]),
        s("upsert", NAME, [m.PointStruct(id=60, vector=[1.0, 2.0])]),
        s("upsert", NAME, [m.PointStruct(id="not-a-uuid", vector=vec(1))]),
        s("query_points", NAME, [1.0, 2.0, 3.0]),
        s("query_points", NAME, 4242),
        s("set_payload", NAME, {"x": 1}, [4242]),
        s("query_points", NAME, vec(1), using="nope"),
        s("count", NAME, count_filter="color ==== 'x'"),
        s("scroll", NAME, limit=-1),
        s("count", NAME),
        s("delete_collection", NAME),
        s("delete_collection", NAME),
        s("collection_exists", NAME),
    ]


def plain(value: Any) -> Any:
    """Models and containers as plain JSON data."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json", by_alias=True))
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def failure(exc: ShoalError) -> dict[str, Any]:
    attrs = ("collection_name", "point_id", "expected", "got")
    return {
        "error": type(exc).__name__,
        "message": exc.message,
        "status": exc.status_code,
        **{a: getattr(exc, a) for a in attrs if hasattr(exc, a)},
    }


def run(client: Any) -> list[Any]:
    """Run the scenario on a sync client."""
    out: list[Any] = []
    for method, args, kwargs in steps():
        try:
            if method == "scroll_all":
                pages, offset = [], None
                while True:
                    points, offset = client.scroll(*args, offset=offset, **kwargs)
                    pages.append(plain(points))
                    if offset is None:
                        break
                out.append(pages)
            else:
                out.append(plain(getattr(client, method)(*args, **kwargs)))
        except ShoalError as exc:
            out.append(failure(exc))
    return out


async def arun(client: Any) -> list[Any]:
    """Run the scenario on an async client."""
    out: list[Any] = []
    for method, args, kwargs in steps():
        try:
            if method == "scroll_all":
                pages, offset = [], None
                while True:
                    points, offset = await client.scroll(*args, offset=offset, **kwargs)
                    pages.append(plain(points))
                    if offset is None:
                        break
                out.append(pages)
            else:
                out.append(plain(await getattr(client, method)(*args, **kwargs)))
        except ShoalError as exc:
            out.append(failure(exc))
    return out
