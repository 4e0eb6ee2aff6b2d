"""qdrant-client 1.20 against ``shoal serve`` answers hybrid calls as Shoal's embedded
client does: a collection with a dense and an IDF sparse vector, points upserted with
``Document(text, model="qdrant/bm25")`` for the sparse vector, a BM25 query, a prefetch +
RRF hybrid query, a grouped query and an MMR query."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from threaded_server import serve_in_thread

from shoal import Client
from shoal.engine import Database

WORDS = [
    "river",
    "stone",
    "forest",
    "quantum",
    "ledger",
    "falcon",
    "copper",
    "meadow",
    "signal",
    "harbor",
    "lantern",
    "granite",
    "orbit",
    "velvet",
    "cipher",
    "tundra",
    "beacon",
    "marble",
    "pollen",
    "summit",
]
N, DIM = 80, 8


def corpus() -> list[tuple[str, list[float], dict[str, Any]]]:
    rng = np.random.default_rng(4)
    out = []
    for i in range(N):
        words = rng.choice(WORDS, size=int(rng.integers(3, 12))).tolist()
        if i % 17 == 0:
            words.append(f"zx{i}rare")  # a rare identifier only this text has
        out.append((" ".join(words), rng.standard_normal(DIM).round(3).tolist(), {"g": i % 6}))
    return out


def fill(client: Any) -> None:
    client.create_collection(
        "h",
        vectors_config={"dense": qm.VectorParams(size=DIM, distance=qm.Distance.COSINE)},
        sparse_vectors_config={"bm25": qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
    )
    client.upsert(
        "h",
        [
            qm.PointStruct(
                id=i,
                vector={"dense": dense, "bm25": qm.Document(text=text, model="qdrant/bm25")},
                payload={**payload, "text": text},
            )
            for i, (text, dense, payload) in enumerate(corpus())
        ],
    )


def doc(text: str) -> qm.Document:
    return qm.Document(text=text, model="qdrant/bm25")


DENSE_Q = np.random.default_rng(9).standard_normal(DIM).round(3).tolist()
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "bm25": ("query_points", {"query": doc("falcon ledger"), "using": "bm25", "limit": 8}),
    "rare": ("query_points", {"query": doc("zx34rare"), "using": "bm25", "limit": 3}),
    "hybrid": (
        "query_points",
        {
            "prefetch": [
                qm.Prefetch(query=DENSE_Q, using="dense", limit=20),
                qm.Prefetch(query=doc("copper harbor signal"), using="bm25", limit=20),
            ],
            "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
            "limit": 10,
        },
    ),
    "groups": (
        "query_points_groups",
        {
            "query": doc("meadow pollen summit"),
            "using": "bm25",
            "group_by": "g",
            "group_size": 2,
            "limit": 4,
        },
    ),
    "mmr": (
        "query_points",
        {
            "query": qm.NearestQuery(nearest=DENSE_Q, mmr=qm.Mmr(diversity=0.6)),
            "using": "dense",
            "limit": 6,
        },
    ),
}


def answer(result: Any) -> Any:
    if hasattr(result, "groups"):
        return [(g.id, [(p.id, round(p.score, 5)) for p in g.hits]) for g in result.groups]
    return [(p.id, round(p.score, 5)) for p in result.points]


@pytest.fixture(scope="module")
def clients() -> Any:
    db = Database(None)
    with serve_in_thread(db) as url:
        official = QdrantClient(url=url)
        embedded = Client()
        fill(official)
        fill(embedded)
        yield official, embedded
        official.close()
        embedded.close()
    db.close()


@pytest.mark.parametrize("call", list(CALLS))
def test_served_to_qdrant_client_as_embedded(clients: Any, call: str) -> None:
    official, embedded = clients
    method, kwargs = CALLS[call]
    served = answer(getattr(official, method)("h", **kwargs))
    local = answer(getattr(embedded, method)("h", **kwargs))
    assert served and served == local
    if call == "rare":
        assert served[0][0] == 34  # the only text with the identifier, found first
