"""Stateful property test: the engine against a plain dict model of its points.

Hypothesis drives random sequences of writes (upsert, delete, payload updates, some naming
missing ids) and reads against ``shoal.Client(":memory:")`` and a dict ``id -> (vector,
payload)``. After every step: the count equals the model's size, scrolling in random page
sizes visits every id exactly once in Qdrant's id order (integers ascending, then UUIDs by
their 128-bit value), and retrieve returns the model's payloads.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import shoal
from shoal import models as m
from shoal.errors import PointNotFound

DIM = 4
COS, DOT = "cos", "dot"  # the same points in a Cosine and (unit vectors) in a Dot collection

UUIDS = [str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % 2**128)) for i in range(1, 9)]
ID_POOL: list[Any] = [0, 1, 2, 3, 7, 42, 1000, 2**63, 2**64 - 1, *UUIDS]

ids = st.sampled_from(ID_POOL)
spelled_ids = ids.flatmap(
    lambda pid: st.just(pid) if isinstance(pid, int) else st.sampled_from([pid, pid.upper()])
)
components = st.floats(-1, 1, allow_nan=False, width=32).map(lambda x: round(x, 3))
vectors = st.lists(components, min_size=DIM, max_size=DIM).filter(
    lambda v: math.sqrt(sum(x * x for x in v)) > 0.1
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", "é"]), components
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from("xy"), scalars, max_size=2),
)
payloads = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(["k", "s", "t", "o"]), values, max_size=3)
)
updates = st.dictionaries(st.sampled_from(["k", "s", "u"]), values, min_size=1, max_size=2)


def unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def canonical(pid: Any) -> Any:
    return pid if isinstance(pid, int) else str(uuid.UUID(pid))


def id_order(pid: Any) -> tuple[int, int]:
    return (0, pid) if isinstance(pid, int) else (1, uuid.UUID(pid).int)


class EngineVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = shoal.Client(":memory:")
        self.client.create_collection(COS, m.VectorParams(size=DIM, distance="Cosine"))
        self.client.create_collection(DOT, m.VectorParams(size=DIM, distance="Dot"))
        self.model: dict[Any, tuple[list[float], dict[str, Any]]] = {}

    def teardown(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------------ writes

    @rule(points=st.lists(st.tuples(spelled_ids, vectors, payloads), min_size=1, max_size=5))
    def upsert(self, points: list[tuple[Any, list[float], Any]]) -> None:
        self.client.upsert(COS, [m.PointStruct(id=i, vector=v, payload=p) for i, v, p in points])
        self.client.upsert(
            DOT, [m.PointStruct(id=i, vector=unit(v), payload=p) for i, v, p in points]
        )
        for pid, vec, payload in points:  # a later duplicate in one batch wins
            self.model[canonical(pid)] = (vec, dict(payload or {}))

    @rule(chosen=st.lists(spelled_ids, min_size=1, max_size=4))
    def delete(self, chosen: list[Any]) -> None:
        for name in (COS, DOT):
            self.client.delete(name, chosen)
        for pid in chosen:
            self.model.pop(canonical(pid), None)

    def _payload_write(self, chosen: list[Any], call: Any, change: Any) -> None:
        """A payload write on ``chosen``: all of them exist, or PointNotFound and no change."""
        if all(canonical(p) in self.model for p in chosen):
            for name in (COS, DOT):
                call(name)
            for pid in {canonical(p) for p in chosen}:
                vec, payload = self.model[pid]
                self.model[pid] = (vec, change(dict(payload)))
        else:
            for name in (COS, DOT):
                try:
                    call(name)
                except PointNotFound:
                    pass
                else:
                    raise AssertionError(f"no PointNotFound for {chosen}")

    @rule(chosen=st.lists(spelled_ids, min_size=1, max_size=3), update=updates)
    def set_payload(self, chosen: list[Any], update: dict[str, Any]) -> None:
        def change(payload: dict[str, Any]) -> dict[str, Any]:
            for k, v in update.items():  # a null removes the key
                if v is None:
                    payload.pop(k, None)
                else:
                    payload[k] = v
            return payload

        self._payload_write(
            chosen, lambda name: self.client.set_payload(name, update, chosen), change
        )

    @rule(chosen=st.lists(spelled_ids, min_size=1, max_size=3), new=payloads)
    def overwrite_payload(self, chosen: list[Any], new: dict[str, Any] | None) -> None:
        self._payload_write(
            chosen,
            lambda name: self.client.overwrite_payload(name, new or {}, chosen),
            lambda _: dict(new or {}),
        )

    @rule(chosen=st.lists(spelled_ids, min_size=1, max_size=3))
    def clear_payload(self, chosen: list[Any]) -> None:
        self._payload_write(
            chosen, lambda name: self.client.clear_payload(name, chosen), lambda _: {}
        )

    # ------------------------------------------------------------------------- reads

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def query_by_stored_vector(self, data: st.DataObject) -> None:
        """An exact query with a stored vector finds that point first (or a point with the
        very same direction, which ties with it)."""
        pid = data.draw(st.sampled_from(sorted(self.model, key=id_order)))
        vec = self.model[pid][0]
        for name, query in ((COS, vec), (DOT, unit(vec))):
            hits = self.client.query_points(
                name, query, limit=3, search_params=m.SearchParams(exact=True)
            ).points
            assert hits, name
            assert math.isclose(hits[0].score, 1.0, rel_tol=1e-5), (name, hits[0])
            if hits[0].id != pid:
                assert np.allclose(unit(self.model[hits[0].id][0]), unit(vec), atol=1e-6)
            assert pid in {h.id for h in hits if math.isclose(h.score, 1.0, rel_tol=1e-5)}

    @rule(query=vectors, limit=st.integers(1, 6))
    def query(self, query: list[float], limit: int) -> None:
        """Scores are cosine similarities of the model's vectors, best first, the top ones."""
        hits = self.client.query_points(COS, query, limit=limit).points
        expected = {
            pid: float(np.dot(unit(vec), unit(query))) for pid, (vec, _) in self.model.items()
        }
        assert len(hits) == min(limit, len(expected))
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        for h in hits:
            assert math.isclose(h.score, expected[h.id], abs_tol=1e-5)
            assert h.payload == self.model[h.id][1]
        if hits:
            worst = scores[-1]
            returned = {h.id for h in hits}
            assert all(s <= worst + 1e-5 for p, s in expected.items() if p not in returned)

    @rule(
        key=st.sampled_from(["k", "s", "t"]),
        value=st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"])),
    )
    def count_filtered(self, key: str, value: Any) -> None:
        """MatchValue: the value, or any element of an array, equals it (kind-strict)."""

        def matches(payload: dict[str, Any]) -> bool:
            v = payload.get(key)
            items = v if isinstance(v, list) else [v]
            return any(type(x) is type(value) and x == value for x in items)

        flt = m.Filter(must=[m.FieldCondition(key=key, match=m.MatchValue(value=value))])
        want = sum(1 for _, p in self.model.values() if matches(p))
        assert self.client.count(COS, flt).count == want

    # -------------------------------------------------------------------- invariants

    @invariant()
    def count_matches_model(self) -> None:
        for name in (COS, DOT):
            assert self.client.count(name).count == len(self.model)

    @invariant()
    def scroll_visits_every_id_once_in_id_order(self) -> None:
        expected = sorted(self.model, key=id_order)
        for name, limit in ((COS, 1 + len(self.model) // 3), (DOT, 4)):
            seen: list[Any] = []
            offset = None
            while True:
                page, offset = self.client.scroll(name, limit=limit, offset=offset)
                assert len(page) <= limit
                seen.extend(p.id for p in page)
                if offset is None:
                    break
                assert len(page) == limit
            assert seen == expected

    @invariant()
    def retrieve_returns_model_payloads(self) -> None:
        wanted = sorted(self.model, key=str)
        records = self.client.retrieve(DOT, [*wanted, 99999], with_vectors=True)
        assert [r.id for r in records] == wanted
        for r in records:
            vec, payload = self.model[r.id]
            assert r.payload == payload
            assert np.allclose(r.vector, unit(vec), atol=1e-6)  # type: ignore[arg-type]


EngineVsModel.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineVsModel = EngineVsModel.TestCase
