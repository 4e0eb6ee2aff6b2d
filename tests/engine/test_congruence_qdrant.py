"""Congruence with qdrant-client 1.20.0's local mode (``QdrantClient(":memory:")``).

One seeded, randomized scenario per (seed, distance) applies the same operations to
``shoal.Client(":memory:")`` and to Qdrant's local mode, both built from the same plain
dicts (Qdrant's REST JSON shapes, validated by each side's own models), and compares every
read: ids, scores, payloads, vectors, paging and counts.

Cases left out of the random scenario on purpose (each is a known difference where Shoal
follows the Qdrant server or its own documented contract, not local mode):

* payload operations naming a missing id: local mode applies the other ids and then raises
  (as the server does), Shoal rejects the whole write and changes nothing (DESIGN: "a
  rejected batch changes nothing"); see ``tests/client/_async/test_bad_input_async.py``.
* ``MatchText``: local mode 1.20 matches whole tokens (qdrant#10341), the 1.19 server and
  Shoal match substrings; a text index changes it again. Not part of this scenario.
* ``is_empty`` as a ``FieldCondition`` flag on a ``[]`` (multi-valued) key: the server
  checks "any value empty", local mode "all values empty"; keys here are never wildcards
  for that flag.
* ``retrieve`` with a repeated id: local mode returns the point twice, the server (which
  collects points into a map, then follows the requested order) and Shoal once.
* payload keys that index into arrays in ``set_payload(key=...)``/``delete_payload``
  (``a[0]``, ``a[].x``): the server accepts them, Shoal refuses them with InvalidPayload.
* ``limit=0``: local mode (and the server's validation) reject it, Shoal returns nothing.
* UUID spellings Python's ``uuid.UUID`` accepts but the server does not (``uuid:``-prefixed,
  hyphens in odd places): Shoal accepts them, local mode raises.

Local-mode behaviour Shoal now matches, with the server's code as the reference (each has a
targeted test below): integer ``match`` skips float values; ``nested`` reads only arrays of
objects; a ``null`` in ``set_payload`` removes the key; ``score_threshold`` is strict;
``with_payload`` include/exclude keys are paths.
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

import shoal
from shoal import models as sm

DIM = 8
COLLECTION = "c"
DISTANCES = ["Cosine", "Euclid", "Dot", "Manhattan"]
SEEDS = [11, 22, 33, 44]
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

REL_TOL = 1e-5
ABS_TOL = 1e-6  # scores near zero (dot/cosine of near-orthogonal vectors)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def canon(value: Any) -> str:
    """Type-strict JSON form: 1, 1.0 and true stay different."""
    return json.dumps(value, sort_keys=True)


# ---------------------------------------------------------------------- the two sides


class Pair:
    """The same collection in Shoal and in Qdrant's local mode."""

    def __init__(self, distance: str) -> None:
        self.distance = distance
        self.s = shoal.Client(":memory:")
        self.q = QdrantClient(":memory:")
        params = {"size": DIM, "distance": distance}
        assert self.s.create_collection(COLLECTION, sm.VectorParams.model_validate(params))
        assert self.q.create_collection(COLLECTION, qm.VectorParams.model_validate(params))

    def close(self) -> None:
        self.s.close()
        self.q.close()

    # writes -------------------------------------------------------------------------

    def upsert(self, points: list[dict[str, Any]]) -> None:
        r = self.s.upsert(COLLECTION, [sm.PointStruct.model_validate(p) for p in points])
        assert r.status == sm.UpdateStatus.COMPLETED
        self.q.upsert(COLLECTION, [qm.PointStruct.model_validate(p) for p in points])

    def delete_ids(self, ids: list[Any]) -> None:
        self.s.delete(COLLECTION, sm.PointIdsList(points=ids))
        self.q.delete(COLLECTION, qm.PointIdsList(points=ids))

    def delete_filter(self, flt: dict[str, Any]) -> None:
        self.s.delete(COLLECTION, sm.FilterSelector(filter=sm.Filter.model_validate(flt)))
        self.q.delete(COLLECTION, qm.FilterSelector(filter=qm.Filter.model_validate(flt)))

    def _targets(self, target: list[Any] | dict[str, Any]) -> tuple[Any, Any]:
        if isinstance(target, dict):
            return sm.Filter.model_validate(target), qm.Filter.model_validate(target)
        return list(target), list(target)

    def set_payload(self, payload: dict[str, Any], target: Any, key: str | None) -> None:
        st, qt = self._targets(target)
        self.s.set_payload(COLLECTION, payload, st, key=key)
        self.q.set_payload(COLLECTION, payload, qt, key=key)

    def overwrite_payload(self, payload: dict[str, Any], target: Any) -> None:
        st, qt = self._targets(target)
        self.s.overwrite_payload(COLLECTION, payload, st)
        self.q.overwrite_payload(COLLECTION, payload, qt)

    def delete_payload(self, keys: list[str], target: Any) -> None:
        st, qt = self._targets(target)
        self.s.delete_payload(COLLECTION, keys, st)
        self.q.delete_payload(COLLECTION, keys, qt)

    def clear_payload(self, target: Any) -> None:
        if isinstance(target, dict):
            self.s.clear_payload(
                COLLECTION, sm.FilterSelector(filter=sm.Filter.model_validate(target))
            )
            self.q.clear_payload(
                COLLECTION, qm.FilterSelector(filter=qm.Filter.model_validate(target))
            )
        else:
            self.s.clear_payload(COLLECTION, sm.PointIdsList(points=target))
            self.q.clear_payload(COLLECTION, qm.PointIdsList(points=target))

    # reads --------------------------------------------------------------------------

    def count(self, flt: dict[str, Any] | None) -> None:
        s = self.s.count(COLLECTION, sm.Filter.model_validate(flt) if flt else None)
        q = self.q.count(COLLECTION, qm.Filter.model_validate(flt) if flt else None)
        assert s.count == q.count, f"count {flt}: shoal {s.count}, qdrant {q.count}"

    def scroll_all(
        self, flt: dict[str, Any] | None, limit: int, with_vectors: bool, payload: Any = True
    ) -> list[Any]:
        s_flt = sm.Filter.model_validate(flt) if flt else None
        q_flt = qm.Filter.model_validate(flt) if flt else None
        offset: Any = None
        seen: list[Any] = []
        for _ in range(1000):
            s_pts, s_next = self.s.scroll(
                COLLECTION,
                s_flt,
                limit=limit,
                offset=offset,
                with_payload=with_payload(payload, sm),
                with_vectors=with_vectors,
            )
            q_pts, q_next = self.q.scroll(
                COLLECTION,
                q_flt,
                limit=limit,
                offset=offset,
                with_payload=with_payload(payload, qm),
                with_vectors=with_vectors,
            )
            assert_records(s_pts, q_pts, f"scroll {flt} limit={limit} offset={offset}")
            assert s_next == q_next, f"scroll {flt}: next offset {s_next} != {q_next}"
            seen.extend(p.id for p in s_pts)
            if s_next is None:
                break
            offset = s_next
        assert len(seen) == len(set(seen)), "scroll pages overlap"
        return seen

    def retrieve(self, ids: list[Any], payload: Any = True) -> None:
        s = self.s.retrieve(
            COLLECTION, ids, with_payload=with_payload(payload, sm), with_vectors=True
        )
        q = self.q.retrieve(
            COLLECTION, ids, with_payload=with_payload(payload, qm), with_vectors=True
        )
        assert_records(s, q, f"retrieve {ids}")

    def query(
        self,
        query: Any,
        flt: dict[str, Any] | None,
        limit: int,
        offset: int,
        threshold: float | None,
        with_vectors: bool,
        payload: Any = True,
    ) -> None:
        s_flt = sm.Filter.model_validate(flt) if flt else None
        q_flt = qm.Filter.model_validate(flt) if flt else None
        ctx = f"query {query!r} filter={flt} limit={limit} offset={offset} thr={threshold}"
        # The whole ranking first (nothing cut): the truth every page is checked against.
        s_all = self.s.query_points(COLLECTION, query, query_filter=s_flt, limit=1000).points
        q_all = self.q.query_points(COLLECTION, query, query_filter=q_flt, limit=1000).points
        truth = {p.id: p.score for p in q_all}
        assert_ranking(s_all, q_all, truth, offset=0, cut=False, ctx=ctx + " (all)")
        if not isinstance(query, list):
            assert canon_id(query) not in {p.id for p in s_all}, "query by id returned itself"
        check_order(s_all, self.distance)
        s = self.s.query_points(
            COLLECTION,
            query,
            query_filter=s_flt,
            limit=limit,
            offset=offset,
            score_threshold=threshold,
            with_payload=with_payload(payload, sm),
            with_vectors=with_vectors,
        ).points
        q = self.q.query_points(
            COLLECTION,
            query,
            query_filter=q_flt,
            limit=limit,
            offset=offset,
            score_threshold=threshold,
            with_payload=with_payload(payload, qm),
            with_vectors=with_vectors,
        ).points
        assert_ranking(s, q, truth, offset=offset, cut=len(q) == limit, ctx=ctx)
        by_id = {p.id: p for p in q}
        for sp in s:
            qp = by_id.get(sp.id)
            if qp is None:  # a tie cut differently at the page's edge
                (qp,) = self.q.retrieve(
                    COLLECTION, [sp.id], with_payload=with_payload(payload, qm), with_vectors=True
                )
            assert canon(sp.payload) == canon(qp.payload), f"{ctx}: payload of {sp.id}"
            if with_vectors:
                assert_vectors(sp.vector, qp.vector, f"{ctx}: vector of {sp.id}")
            else:
                assert sp.vector is None


def with_payload(spec: Any, models: Any) -> Any:
    """A ``with_payload`` value for one side: bools and key lists pass through, dicts
    become that side's include/exclude selector."""
    if isinstance(spec, dict):
        if "include" in spec:
            return models.PayloadSelectorInclude(include=spec["include"])
        return models.PayloadSelectorExclude(exclude=spec["exclude"])
    return spec


def canon_id(pid: Any) -> Any:
    return pid if isinstance(pid, int) else str(uuid.UUID(pid))


def assert_vectors(s: Any, q: Any, ctx: str) -> None:
    assert s is not None and q is not None, ctx
    np.testing.assert_allclose(np.asarray(s), np.asarray(q), rtol=1e-5, atol=1e-5, err_msg=ctx)


def assert_records(s: list[Any], q: list[Any], ctx: str) -> None:
    assert [p.id for p in s] == [p.id for p in q], f"{ctx}: ids differ"
    for sp, qp in zip(s, q, strict=True):
        assert isinstance(sp.id, int) or CANONICAL_UUID.fullmatch(sp.id), sp.id
        assert canon(sp.payload) == canon(qp.payload), f"{ctx}: payload of {sp.id}"
        if qp.vector is None:
            assert sp.vector is None, ctx
        else:
            assert_vectors(sp.vector, qp.vector, f"{ctx}: vector of {sp.id}")


def tie_groups(scores: list[float]) -> list[tuple[int, int]]:
    """[start, end) runs of consecutive scores equal within tolerance."""
    groups, start = [], 0
    for i in range(1, len(scores) + 1):
        if i == len(scores) or not close(scores[i], scores[i - 1]):
            groups.append((start, i))
            start = i
    return groups


def assert_ranking(
    s: list[Any], q: list[Any], truth: dict[Any, float], *, offset: int, cut: bool, ctx: str
) -> None:
    """Same scores position by position; ties may come in any order.

    Every id Shoal returns must carry its true score (from Qdrant's whole ranking); a tie
    group inside the page must hold the same ids on both sides, while a group at the
    page's edges may be cut by offset or limit and only has to hold true members.
    """
    s_scores, q_scores = [p.score for p in s], [p.score for p in q]
    assert len(s) == len(q), f"{ctx}: {len(s)} results, qdrant {len(q)}\n{s_scores}\n{q_scores}"
    for a, b in zip(s_scores, q_scores, strict=True):
        assert close(a, b), f"{ctx}: scores differ\n{s_scores}\n{q_scores}"
    ids = [p.id for p in s]
    assert len(set(ids)) == len(ids), f"{ctx}: duplicate ids {ids}"
    for p in s:
        assert isinstance(p.id, int) or CANONICAL_UUID.fullmatch(p.id), p.id
        assert p.id in truth, f"{ctx}: {p.id} is not a match"
        assert close(truth[p.id], p.score), f"{ctx}: {p.id} score {p.score} != {truth[p.id]}"
    for start, end in tie_groups(q_scores):
        if (start == 0 and offset > 0) or (end == len(q) and cut):
            continue
        assert {p.id for p in s[start:end]} == {p.id for p in q[start:end]}, (
            f"{ctx}: tie group {start}:{end} differs"
        )


def check_order(points: list[Any], distance: str) -> None:
    scores = [p.score for p in points]
    if distance in ("Cosine", "Dot"):
        assert all(a >= b - ABS_TOL for a, b in pairwise(scores)), scores
    else:
        assert all(a <= b + ABS_TOL for a, b in pairwise(scores)), scores


# ------------------------------------------------------------------------ generators


class Gen:
    """Random points, payloads and filters for one scenario."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vectors: list[list[float]] = []
        self.ids: list[Any] = []  # every id ever used (live or deleted), canonical

    def vector(self) -> list[float]:
        rng = self.rng
        if self.vectors and rng.random() < 0.15:  # an exact duplicate: ties in every distance
            return list(rng.choice(self.vectors))
        vec = [round(rng.uniform(-1, 1), 3) for _ in range(DIM)]
        if not any(vec):
            vec[0] = 0.5
        self.vectors.append(vec)
        return vec

    def new_id(self) -> Any:
        rng = self.rng
        if rng.random() < 0.6:
            return rng.randrange(0, 10_000)
        return str(uuid.UUID(int=rng.getrandbits(128)))

    def spelled(self, pid: Any) -> Any:
        """An id as a user might write it: UUIDs sometimes upper-case or without hyphens."""
        if isinstance(pid, int):
            return pid
        r = self.rng.random()
        if r < 0.25:
            return pid.upper()
        if r < 0.4:
            return uuid.UUID(pid).hex
        return pid

    def some_ids(self, k: int) -> list[Any]:
        pool = self.ids
        chosen = self.rng.sample(pool, min(k, len(pool))) if pool else []
        return [self.spelled(p) for p in chosen]

    def payload(self) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() < 0.1:
            return None
        p: dict[str, Any] = {}

        def maybe(key: str, value: Any, prob: float = 0.75) -> None:
            if rng.random() < prob:
                p[key] = value

        maybe("i", rng.randrange(0, 6))
        # integral floats (2.0) never match an integer MatchValue on the server
        maybe("f", rng.choice([round(rng.uniform(-10, 10), 2), float(rng.randrange(0, 6))]))
        maybe("s", rng.choice(["red", "green", "blue", "Red", ""]))
        maybe("b", rng.choice([True, False]))
        maybe("tags", rng.sample(["a", "b", "c", "d"], k=rng.randrange(0, 4)))
        maybe("nums", [rng.randrange(0, 6) for _ in range(rng.randrange(0, 4))])
        nested: dict[str, Any] = {}
        if rng.random() < 0.7:
            nested["a"] = {"b": rng.randrange(0, 4)} if rng.random() < 0.8 else {}
        if rng.random() < 0.6:
            nested["c"] = rng.choice(["x", "y"])
        maybe("nested", nested)
        maybe("n", None, 0.3)
        maybe(
            "mixed",
            rng.choice(
                [1, "1", True, 1.0, 2.5, [1, "x"], {"k": 1}, [None], [], None, [[1]], [1.0, 2]]
            ),
            0.6,
        )
        maybe(
            "objs",
            [
                {"x": rng.randrange(0, 4), "y": rng.choice(["p", "q"])}
                for _ in range(rng.randrange(0, 3))
            ],
            0.5,
        )
        return p

    def point(self, pid: Any) -> dict[str, Any]:
        point: dict[str, Any] = {"id": self.spelled(pid), "vector": self.vector()}
        payload = self.payload()
        if payload is not None or self.rng.random() < 0.5:
            point["payload"] = payload
        return point

    def with_payload(self) -> Any:
        rng = self.rng
        if rng.random() < 0.6:
            return True
        keys = rng.sample(["s", "nested.a", "nested.a.b", "objs[].x", "objs.x", "tags", "zz"], 2)
        return rng.choice([False, keys, {"include": keys}, {"exclude": keys}])

    # filters ------------------------------------------------------------------------

    def condition(self, depth: int = 0) -> dict[str, Any]:
        rng = self.rng
        kind = rng.randrange(15 if depth < 1 else 14)
        if kind == 0:
            key, value = rng.choice(
                [
                    ("i", rng.randrange(0, 6)),
                    ("s", rng.choice(["red", "green", "Red", ""])),
                    ("b", rng.choice([True, False])),
                    ("tags", rng.choice("abcd")),
                    ("nums", rng.randrange(0, 6)),
                    ("nested.a.b", rng.randrange(0, 4)),
                    ("nested.c", "x"),
                    ("mixed", rng.choice([1, "1", True, 2])),
                    ("f", rng.randrange(0, 6)),
                    ("objs[].x", rng.randrange(0, 4)),
                ]
            )
            return {"key": key, "match": {"value": value}}
        if kind == 1:
            key, values = rng.choice(
                [
                    ("i", rng.sample(range(6), 2)),
                    ("s", ["red", "blue"]),
                    ("tags", rng.sample("abcd", 2)),
                    ("nums", [0, 5]),
                    ("mixed", [1, 2]),
                    ("mixed", ["1", "x"]),
                    ("f", [0, 1, 2]),
                ]
            )
            return {"key": key, "match": {"any": values}}
        if kind == 2:
            key, values = rng.choice(
                [
                    ("i", rng.sample(range(6), 2)),
                    ("s", ["red"]),
                    ("tags", ["a", "b"]),
                    ("nums", [1, 2]),
                    ("mixed", [1]),
                    ("mixed", ["x"]),
                    ("f", [0, 1, 2]),
                    ("nested.a.b", [0]),
                ]
            )
            return {"key": key, "match": {"except": values}}
        if kind == 3:
            key = rng.choice(["i", "f", "nums", "nested.a.b", "mixed", "b", "s"])
            lo = round(rng.uniform(-5, 4), 1)
            bounds = rng.choice(
                [{"gte": lo}, {"lt": lo + 2}, {"gt": lo, "lte": lo + 3}, {"gte": 1, "lte": 1}]
            )
            return {"key": key, "range": bounds}
        if kind == 4:
            key = rng.choice(["n", "mixed", "s", "zz", "nested.c", "tags"])
            return {"is_null": {"key": key}}
        if kind == 5:
            key = rng.choice(["tags", "nums", "n", "mixed", "zz", "nested.a", "objs"])
            return {"is_empty": {"key": key}}
        if kind == 6:
            return {"has_id": self.some_ids(rng.randrange(1, 6))}
        if kind == 7:
            key = rng.choice(["tags", "nums", "mixed", "s", "n", "zz", "objs"])
            bounds = rng.choice([{"gte": 2}, {"lt": 1}, {"lte": 1}, {"gt": 0, "lt": 3}])
            return {"key": key, "values_count": bounds}
        if kind == 8:
            key = rng.choice(["n", "mixed", "s", "zz"])
            return {"key": key, "is_null": rng.choice([True, False])}
        if kind == 9:
            key = rng.choice(["tags", "nums", "n", "mixed", "zz"])
            return {"key": key, "is_empty": rng.choice([True, False])}
        if kind == 10:
            inner = {"must": [{"key": "x", "match": {"value": rng.randrange(0, 4)}}]}
            if rng.random() < 0.5:
                inner["must_not"] = [{"key": "y", "match": {"value": "p"}}]
            return {"nested": {"key": "objs", "filter": inner}}
        if kind == 11:
            return {"key": "objs[].y", "match": {"value": rng.choice(["p", "q"])}}
        if kind == 12:
            return {"key": "nested.a", "values_count": {"gte": 1}}
        if kind == 13:
            return {"key": rng.choice(["nested.c", "s"]), "match": {"except": ["x", "red"]}}
        return self.filter(depth + 1)  # a nested Filter as a condition

    def filter(self, depth: int = 0) -> dict[str, Any]:
        rng = self.rng
        flt: dict[str, Any] = {}
        for clause in ("must", "should", "must_not"):
            if rng.random() < 0.5:
                flt[clause] = [self.condition(depth) for _ in range(rng.randrange(1, 3))]
        if not flt:
            flt["must"] = [self.condition(depth)]
        return flt

    def maybe_filter(self) -> dict[str, Any] | None:
        return self.filter() if self.rng.random() < 0.75 else None


# ------------------------------------------------------------------------ the scenario


def threshold_for(points: list[Any], rng: random.Random) -> float | None:
    """A threshold halfway between two distinct scores, so float noise cannot decide it."""
    scores = sorted({p.score for p in points})
    gaps = [(a, b) for a, b in pairwise(scores) if b - a > 1e-3]
    if not gaps or rng.random() < 0.4:
        return None
    a, b = rng.choice(gaps)
    return (a + b) / 2


def run_scenario(seed: int, distance: str) -> None:
    gen = Gen(seed * 31 + DISTANCES.index(distance))
    rng = gen.rng
    pair = Pair(distance)
    live: set[Any] = set()
    try:
        # an initial load: int and UUID ids, payloads of every kind, some without payload
        for _ in range(4):
            batch = {}
            for _ in range(rng.randrange(10, 25)):
                pid = gen.new_id()
                batch[pid] = gen.point(pid)
            pair.upsert(list(batch.values()))
            gen.ids.extend(p for p in batch if p not in gen.ids)
            live |= set(batch)
        pair.count(None)
        pair.scroll_all(None, rng.randrange(3, 20), with_vectors=True)

        for _step in range(60):
            op = rng.choices(
                [
                    "upsert",
                    "reupsert",
                    "delete_ids",
                    "delete_filter",
                    "set_payload",
                    "set_payload_key",
                    "overwrite",
                    "delete_payload",
                    "clear",
                    "query",
                    "query_id",
                    "scroll",
                    "count",
                    "retrieve",
                ],
                weights=[2, 2, 1, 1, 2, 1, 1, 1, 1, 5, 3, 2, 3, 2],
            )[0]
            live_list = sorted(live, key=str)
            if op == "upsert":
                batch = {}
                for _ in range(rng.randrange(1, 8)):
                    pid = gen.new_id()
                    batch[pid] = gen.point(pid)
                pair.upsert(list(batch.values()))
                gen.ids.extend(p for p in batch if p not in gen.ids)
                live |= set(batch)
            elif op == "reupsert" and live_list:
                chosen = rng.sample(live_list, min(len(live_list), rng.randrange(1, 6)))
                pair.upsert([gen.point(p) for p in chosen])
            elif op == "delete_ids":
                chosen = [*gen.some_ids(rng.randrange(1, 5)), gen.new_id()]  # one likely missing
                pair.delete_ids(chosen)
                live -= {canon_id(p) for p in chosen}
            elif op == "delete_filter":
                flt = gen.filter()
                page, _ = pair.s.scroll(COLLECTION, sm.Filter.model_validate(flt), limit=10_000)
                doomed = {p.id for p in page}
                if len(doomed) > len(live) // 3:  # keep the collection populated
                    continue
                pair.delete_filter(flt)
                live -= doomed
            elif op in ("set_payload", "set_payload_key", "overwrite", "delete_payload", "clear"):
                target: Any
                if rng.random() < 0.7 and live_list:
                    target = [
                        gen.spelled(p)
                        for p in rng.sample(live_list, min(len(live_list), rng.randrange(1, 5)))
                    ]
                else:
                    target = gen.filter()
                if op == "set_payload":
                    payload = {
                        "s": rng.choice(["red", "blue"]),
                        "extra": rng.randrange(100),
                        # a null in set_payload removes the key (the server's merge)
                        **({"i": None} if rng.random() < 0.5 else {}),
                    }
                    pair.set_payload(payload, target, None)
                elif op == "set_payload_key":
                    key = rng.choice(["nested", "nested.a", "deep.er"])
                    pair.set_payload({"b": rng.randrange(4), "z": "new"}, target, key)
                elif op == "overwrite":
                    pair.overwrite_payload(gen.payload() or {}, target)
                elif op == "delete_payload":
                    keys = rng.sample(["s", "i", "tags", "nested.a", "nested.a.b", "zz"], 2)
                    pair.delete_payload(keys, target)
                else:
                    pair.clear_payload(target)
            elif op == "query":
                vec = [round(rng.uniform(-1, 1), 3) for _ in range(DIM)]
                flt = gen.maybe_filter()
                full = pair.s.query_points(
                    COLLECTION,
                    vec,
                    query_filter=sm.Filter.model_validate(flt) if flt else None,
                    limit=1000,
                ).points
                pair.query(
                    vec,
                    flt,
                    limit=rng.randrange(1, 15),
                    offset=rng.choice([0, 0, 1, 3]),
                    threshold=threshold_for(full, rng),
                    with_vectors=rng.random() < 0.3,
                    payload=gen.with_payload(),
                )
            elif op == "query_id" and live_list:
                pid = gen.spelled(rng.choice(live_list))
                flt = gen.maybe_filter()
                full = pair.s.query_points(
                    COLLECTION,
                    pid,
                    query_filter=sm.Filter.model_validate(flt) if flt else None,
                    limit=1000,
                ).points
                pair.query(
                    pid,
                    flt,
                    limit=rng.randrange(1, 10),
                    offset=rng.choice([0, 2]),
                    threshold=threshold_for(full, rng),
                    with_vectors=rng.random() < 0.3,
                    payload=gen.with_payload(),
                )
            elif op == "scroll":
                pair.scroll_all(
                    gen.maybe_filter(), rng.randrange(1, 12), rng.random() < 0.3, gen.with_payload()
                )
            elif op == "count":
                pair.count(gen.maybe_filter())
            elif op == "retrieve":
                # distinct ids: local mode returns a repeated id twice, the server (and
                # Shoal) once
                ids = gen.some_ids(rng.randrange(1, 8))
                extra = gen.new_id()
                if canon_id(extra) not in {canon_id(i) for i in ids}:
                    ids.append(extra)
                pair.retrieve(ids, gen.with_payload())
            pair.count(None)

        # the end state, whole
        seen = pair.scroll_all(None, 7, with_vectors=True)
        assert set(seen) == live
        pair.retrieve(sorted(live, key=str))
    finally:
        pair.close()


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_scenario_matches_qdrant_local(seed: int, distance: str) -> None:
    run_scenario(seed, distance)


# ------------------------------------------------------------------ targeted checks


@pytest.mark.parametrize("distance", DISTANCES)
def test_documented_semantics(distance: str) -> None:
    """The semantics DESIGN.md lists, spelled out on a tiny collection."""
    pair = Pair(distance)
    try:
        upper = "5C56C793-69F3-4FBF-87E6-C4BF54C28C26"
        pair.upsert(
            [
                {"id": 1, "vector": [3.0] + [0.0] * (DIM - 1)},  # no payload
                {"id": upper, "vector": [1.0, 1.0] + [0.0] * (DIM - 2), "payload": {"k": 1}},
                {"id": 2, "vector": [0.0, 2.0] + [0.0] * (DIM - 2), "payload": {}},
            ]
        )
        recs = pair.s.retrieve(COLLECTION, [1, upper.lower(), 2], with_vectors=True)
        assert [r.id for r in recs] == [1, upper.lower(), 2]  # canonical lower-case
        assert recs[0].payload == {} and recs[2].payload == {}
        if distance == "Cosine":  # stored normalised
            assert recs[0].vector == pytest.approx([1.0] + [0.0] * (DIM - 1))
            assert np.linalg.norm(recs[1].vector) == pytest.approx(1.0)
        else:
            assert recs[0].vector == pytest.approx([3.0] + [0.0] * (DIM - 1))
        pair.retrieve([1, upper, 2])
        query = [1.0, 0.5] + [0.0] * (DIM - 2)
        pair.query(query, None, limit=10, offset=0, threshold=None, with_vectors=True)
        for pid in (1, upper, 2):  # by id: the point itself is left out
            pair.query(pid, None, limit=10, offset=0, threshold=None, with_vectors=False)
    finally:
        pair.close()


@pytest.mark.parametrize("distance", DISTANCES)
def test_score_threshold_equal_score_is_excluded(distance: str) -> None:
    """A result scoring exactly the threshold is dropped ("only higher scores" for
    similarities, only lower for distances): the server's ``check_threshold`` is strict."""
    pair = Pair(distance)
    try:
        unit = [1.0] + [0.0] * (DIM - 1)
        pair.upsert([{"id": 1, "vector": unit}, {"id": 2, "vector": [0.0, 1.0] + [0.0] * 6}])
        exact = pair.s.query_points(COLLECTION, unit, limit=1).points[0].score
        assert exact == (1.0 if distance in ("Cosine", "Dot") else 0.0)
        for thr in (exact, float(np.nextafter(exact, -10)), float(np.nextafter(exact, 10))):
            s = pair.s.query_points(COLLECTION, unit, score_threshold=thr).points
            q = pair.q.query_points(COLLECTION, unit, score_threshold=thr).points
            assert [p.id for p in s] == [p.id for p in q], thr
    finally:
        pair.close()


def test_set_payload_null_removes_key() -> None:
    """The server merges set_payload with ``merge_map``: a null value deletes the key,
    at the top level and under ``key``."""
    pair = Pair("Dot")
    try:
        pair.upsert([{"id": 1, "vector": [1.0] * DIM, "payload": {"a": 1, "o": {"x": 1}}}])
        pair.set_payload({"a": None, "b": 2}, [1], None)
        pair.set_payload({"x": None, "y": None}, [1], "o")
        pair.retrieve([1])
        assert pair.s.retrieve(COLLECTION, [1])[0].payload == {"b": 2, "o": {}}
    finally:
        pair.close()


def test_integer_match_skips_float_values() -> None:
    """The server reads a stored number as an i64 for integer ``match``: ``2.0`` is no
    integer, so ``value``/``any`` never match it and ``except`` always does."""
    pair = Pair("Dot")
    try:
        values: list[Any] = [2, 2.0, 2.5, [2.0, 3], True, "2", None]
        pair.upsert(
            [{"id": i, "vector": [1.0] * DIM, "payload": {"v": v}} for i, v in enumerate(values)]
        )
        for match in ({"value": 2}, {"any": [2, 3]}, {"except": [2]}, {"except": ["x"]}):
            for clause in ("must", "must_not"):
                flt = {clause: [{"key": "v", "match": match}]}
                pair.count(flt)
                pair.scroll_all(flt, 10, with_vectors=False)
        only_int = pair.s.count(
            COLLECTION, sm.Filter.model_validate({"must": [{"key": "v", "match": {"value": 2}}]})
        )
        assert only_int.count == 1
    finally:
        pair.close()


def test_nested_condition_reads_arrays_of_objects_only() -> None:
    pair = Pair("Dot")
    try:
        payloads: list[Any] = [
            {"o": [{"x": 1}, {"x": 2}]},
            {"o": {"x": 1}},  # a plain object: no array to look into
            {"o": [[{"x": 1}]]},
            {"o": [1, {"x": 1}]},
            {},
        ]
        pair.upsert(
            [{"id": i, "vector": [1.0] * DIM, "payload": p} for i, p in enumerate(payloads)]
        )
        inner = {"must": [{"key": "x", "match": {"value": 1}}]}
        for key in ("o", "o[]"):
            flt = {"must": [{"nested": {"key": key, "filter": inner}}]}
            pair.scroll_all(flt, 10, with_vectors=False)
            assert pair.s.count(COLLECTION, sm.Filter.model_validate(flt)).count == 2
        # a has_id inside a nested filter knows no point id: it never matches
        flt = {"must": [{"nested": {"key": "o", "filter": {"must": [{"has_id": [0]}]}}}]}
        pair.count(flt)
    finally:
        pair.close()


@pytest.mark.parametrize(
    "spec",
    [
        ["o.p"],
        ["o"],
        ["arr.x"],
        ["arr[].x"],
        ["o.p", "s"],
        {"include": ["o.q", "arr[]"]},
        {"exclude": ["o.p"]},
        {"exclude": ["arr[].x", "s"]},
        {"exclude": ["o"]},
    ],
)
def test_payload_selectors_follow_paths(spec: Any) -> None:
    pair = Pair("Dot")
    try:
        payload = {"o": {"p": 1, "q": {"r": 2}}, "arr": [{"x": 1, "y": 2}, 3], "s": "t"}
        pair.upsert([{"id": 1, "vector": [1.0] * DIM, "payload": payload}])
        pair.retrieve([1], spec)
        pair.scroll_all(None, 5, with_vectors=False, payload=spec)
        pair.query([1.0] * DIM, None, 5, 0, None, with_vectors=False, payload=spec)
    finally:
        pair.close()


def test_results_are_copies_of_stored_payloads() -> None:
    """Mutating a returned payload must not change what is stored (nor what filters see)."""
    pair = Pair("Dot")
    try:
        pair.upsert([{"id": 1, "vector": [1.0] * DIM, "payload": {"o": {"a": 1}, "l": [1]}}])
        for rec in (
            pair.s.retrieve(COLLECTION, [1])[0],
            pair.s.scroll(COLLECTION)[0][0],
            pair.s.query_points(COLLECTION, [1.0] * DIM).points[0],
            pair.s.retrieve(COLLECTION, [1], with_payload=["o"])[0],
        ):
            assert rec.payload is not None
            rec.payload["o"]["a"] = 999
            rec.payload.setdefault("l", []).append(5)
        pair.retrieve([1])
        assert pair.s.retrieve(COLLECTION, [1])[0].payload == {"o": {"a": 1}, "l": [1]}
        pair.count({"must": [{"key": "o.a", "match": {"value": 999}}]})
    finally:
        pair.close()
