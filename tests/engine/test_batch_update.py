"""``points/batch`` (``batch_update_points``): operations applied in order as one write.

Hypothesis checks that a random batch leaves a collection exactly as the same operations
made one by one; the other tests check that a batch with a bad operation changes nothing,
also after a reopen, and that both embedded clients take models and JSON dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal import models as m
from shoal.errors import InvalidFilter, PointNotFound, WrongVectorSize

DIM = 2
ids = st.integers(0, 5)
vectors = st.lists(st.integers(1, 4).map(float), min_size=DIM, max_size=DIM)
payloads = st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2)
operation = st.one_of(
    st.builds(lambda i, v, p: ("upsert", i, v, p), ids, vectors, payloads),
    st.builds(lambda i: ("delete", i, None, None), ids),
    st.builds(lambda p: ("delete_where", None, None, p), payloads),
    st.builds(lambda i, p: ("set_payload", i, None, p), ids, payloads),
    st.builds(lambda i, p: ("overwrite_payload", i, None, p), ids, payloads),
    st.builds(lambda i, p: ("delete_payload", i, None, p), ids, payloads),
    st.builds(lambda i: ("clear_payload", i, None, None), ids),
)


def as_model(op: tuple[Any, ...]) -> m.UpdateOperation:
    kind, pid, vec, payload = op
    if kind == "upsert":
        return m.UpsertOperation(
            upsert=m.PointsList(points=[m.PointStruct(id=pid, vector=vec, payload=payload)])
        )
    if kind == "delete":
        return m.DeleteOperation(delete=m.PointIdsList(points=[pid]))
    if kind == "delete_where":
        expr = " and ".join(f"{k} == {v}" for k, v in payload.items()) or "a == 9"
        return m.DeleteOperation(delete=m.FilterSelector(filter=expr))
    if kind == "clear_payload":
        return m.ClearPayloadOperation(clear_payload=m.PointIdsList(points=[pid]))
    if kind == "delete_payload":
        keys = sorted(payload) or ["a"]
        return m.DeletePayloadOperation(delete_payload=m.DeletePayload(keys=keys, points=[pid]))
    body = m.SetPayload(payload=payload, points=[pid])
    if kind == "set_payload":
        return m.SetPayloadOperation(set_payload=body)
    return m.OverwritePayloadOperation(overwrite_payload=body)


def apply_alone(client: shoal.Client, name: str, op: m.UpdateOperation) -> None:
    """One operation through the ordinary method; a payload update of a missing point is
    skipped, as the batch would reject it (checked separately)."""
    try:
        if isinstance(op, m.UpsertOperation):
            client.upsert(name, op.upsert.points)  # type: ignore[union-attr]
        elif isinstance(op, m.DeleteOperation):
            client.delete(name, op.delete)
        elif isinstance(op, m.SetPayloadOperation):
            client.set_payload(name, op.set_payload.payload, op.set_payload.points or [])
        elif isinstance(op, m.OverwritePayloadOperation):
            body = op.overwrite_payload
            client.overwrite_payload(name, body.payload, body.points or [])
        elif isinstance(op, m.DeletePayloadOperation):
            body2 = op.delete_payload
            client.delete_payload(name, body2.keys, body2.points or [])
        else:
            client.clear_payload(name, op.clear_payload)
    except PointNotFound:
        pass


def snapshot(client: shoal.Client, name: str) -> list[tuple[Any, Any, Any]]:
    records, _ = client.scroll(name, limit=100, with_vectors=True)
    return [(r.id, r.payload, r.vector) for r in records]


def new_collection(client: shoal.Client, name: str) -> None:
    client.create_collection(name, m.VectorParams(size=DIM, distance="Dot"))


@settings(max_examples=120, deadline=None)
@given(st.lists(operation, max_size=4), st.lists(operation, min_size=1, max_size=8))
def test_a_batch_leaves_what_its_operations_leave_one_by_one(
    before: list[tuple[Any, ...]], batch: list[tuple[Any, ...]]
) -> None:
    with shoal.Client() as client:
        new_collection(client, "batched")
        new_collection(client, "alone")
        for op in before:
            for name in ("batched", "alone"):
                apply_alone(client, name, as_model(op))
        ops = [as_model(op) for op in batch]
        start = snapshot(client, "batched")
        try:
            results = client.batch_update_points("batched", ops)
        except PointNotFound:
            # A payload update named a point that did not exist at its turn: the whole
            # batch is rejected and nothing changed.
            assert snapshot(client, "batched") == start
            return
        assert len(results) == len(ops)
        assert all(r.status == m.UpdateStatus.COMPLETED for r in results)
        for op in ops:
            apply_alone(client, "alone", op)
        assert snapshot(client, "batched") == snapshot(client, "alone")


@pytest.mark.parametrize(
    "bad, error",
    [
        (m.UpsertOperation(upsert=m.PointsList(points=[m.PointStruct(id=9, vector=[1.0])])),
         WrongVectorSize),
        (m.SetPayloadOperation(set_payload=m.SetPayload(payload={"x": 1}, points=[77])),
         PointNotFound),
        (m.DeleteOperation(delete=m.FilterSelector(filter="a ==")), InvalidFilter),
    ],
)  # fmt: skip
def test_a_bad_operation_rejects_the_whole_batch(
    tmp_path: Path, bad: m.UpdateOperation, error: type[Exception]
) -> None:
    with shoal.Client(path=tmp_path) as client:
        new_collection(client, "c")
        client.upsert("c", [m.PointStruct(id=1, vector=[1.0, 1.0], payload={"a": 1})])
        start = snapshot(client, "c")
        ops = [
            m.UpsertOperation(upsert=m.PointsList(points=[m.PointStruct(id=2, vector=[1.0, 2.0])])),
            m.SetPayloadOperation(set_payload=m.SetPayload(payload={"b": 2}, points=[1])),
            bad,
            m.DeleteOperation(delete=m.PointIdsList(points=[1])),
        ]
        with pytest.raises(error):
            client.batch_update_points("c", ops)
        assert snapshot(client, "c") == start
    with shoal.Client(path=tmp_path) as client:  # and nothing of it reached the disk
        assert snapshot(client, "c") == start


async def test_both_clients_take_models_and_json(tmp_path: Path) -> None:
    ops: list[Any] = [
        {"upsert": {"points": [{"id": 1, "vector": [1.0, 0.0], "payload": {"n": 1}}]}},
        m.UpsertOperation(upsert=m.PointsBatch(batch=m.Batch(ids=[2], vectors=[[0.0, 1.0]]))),
        {"set_payload": {"payload": {"seen": True}, "filter": "n == 1"}},
        {"delete": {"points": [2]}},
    ]
    async with shoal.AsyncClient(path=tmp_path / "a") as aclient:
        await aclient.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        results = await aclient.batch_update_points("c", ops)
        records = await aclient.retrieve("c", [1, 2])
    assert len(results) == 4 and len({r.operation_id for r in results}) == 1
    assert [(r.id, r.payload) for r in records] == [(1, {"n": 1, "seen": True})]
    with shoal.Client(path=tmp_path / "s") as client:
        new_collection(client, "c")
        client.batch_update_points("c", ops)
        assert [(r.id, r.payload) for r in client.retrieve("c", [1, 2])] == [
            (1, {"n": 1, "seen": True})
        ]
        with pytest.raises(shoal.errors.BadRequest, match="rename_vectors"):
            client.batch_update_points("c", [{"rename_vectors": {"points": []}}])
