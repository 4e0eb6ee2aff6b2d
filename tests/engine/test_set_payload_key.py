"""``set_payload`` with a ``key`` (nested keys, array indices, ``[]``) changes the stored
payload exactly as qdrant-client's local mode does (which follows Qdrant's server), over
the embedded engine, in-process ASGI and a real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import TRANSPORTS, shoal_client

from shoal import errors

BEFORE = {
    "nest": [{"a": "100", "b": "200"}, {"a": "x"}, 5],
    "obj": {"inner": {"k": 1}, "list": [1, 2]},
    "flat": 3,
    "text": "s",
}
CASES: list[tuple[str, dict[str, Any]]] = [
    ("nest[0]", {"a": "101"}),  # an existing element
    ("nest[1]", {"a": None, "c": [1, {"d": 2}]}),  # null removes
    ("nest[2]", {"z": 1}),  # a number in the array becomes an object
    ("nest[7]", {"d": "404"}),  # past the end: nothing
    ("nest[]", {"w": {"deep": True}}),  # every element
    ("nest[].q", {"v": 1}),
    ("obj.inner", {"k": 2, "m": 3}),
    ("obj.new.deeper", {"x": 1}),  # created on the way
    ("obj.list[1]", {"y": 1}),
    ("flat.sub", {"x": 1}),  # a number where an object is needed
    ("text[0]", {"x": 1}),  # a string where an array is needed
    ("obj.inner.k[0].z", {"x": 1}),
    ("missing[0]", {"x": 1}),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_set_payload_with_key_agrees_with_local_mode(transport: str, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    with shoal_client(transport, tmp_path) as ours:
        for client in (theirs, ours):
            client.create_collection("c", qm.VectorParams(size=2, distance=qm.Distance.DOT))
        for key, values in CASES:
            for client in (theirs, ours):
                client.upsert("c", [qm.PointStruct(id=1, vector=[1.0, 0.0], payload=BEFORE)])
                client.set_payload("c", payload=values, points=[1], key=key)
            want = theirs.retrieve("c", [1])[0].payload
            assert ours.retrieve("c", [1])[0].payload == want, key
        with pytest.raises(errors.InvalidPayload, match="must start with a key"):
            ours.set_payload("c", payload={"x": 1}, points=[1], key="[0].a")
    theirs.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_quoted_and_empty_keys_as_in_local_mode(transport: str, tmp_path: Path) -> None:
    """A quoted segment is one key, dots and all, and may be empty (``""``); an empty
    ``key`` is refused, as qdrant-client's own test_set_payload_with_key expects."""
    theirs = QdrantClient(":memory:")
    quoted = qm.Filter(must=[qm.FieldCondition(key='""', match=qm.MatchValue(value="xc"))])
    dotted = qm.Filter(must=[qm.FieldCondition(key='"a.b".c', match=qm.MatchValue(value=2))])
    with shoal_client(transport, tmp_path) as ours:
        for client in (theirs, ours):
            client.create_collection("c", qm.VectorParams(size=2, distance=qm.Distance.DOT))
            payload = {"": "xc", "a.b": {"c": 2}}
            client.upsert("c", [qm.PointStruct(id=1, vector=[1.0, 0.0], payload=payload)])
            assert client.count("c", dotted).count == 1
            client.set_payload("c", payload={"": "bbb"}, points=quoted)
        assert ours.retrieve("c", [1])[0].payload == theirs.retrieve("c", [1])[0].payload
        assert ours.retrieve("c", [1])[0].payload[""] == "bbb"
        with pytest.raises(ValueError):
            theirs.set_payload("c", payload={"": "x"}, points=[1], key="")
        with pytest.raises(errors.InvalidPayload, match="empty payload key"):
            ours.set_payload("c", payload={"": "x"}, points=[1], key="")
    theirs.close()
