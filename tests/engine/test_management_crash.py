"""Alias changes and update_collection are durable: SIGKILL a process that keeps switching
an alias (or changing a collection's settings), right after it printed an acknowledged
change; on reopen the alias names the collection of that switch, or of the one after it
(sent, possibly stored, never acknowledged). Never a missing alias, never a mix of two
changes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.engine import Database

CHILD = """
import sys
from shoal.engine import Database
from shoal import models as m

db = Database(sys.argv[1])
for name in ("a", "b"):
    if not db.collection_exists(name):
        config = m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))
        db.create_collection(name, config)
current = {a.alias_name: a.collection_name for a in db.list_aliases().aliases}.get("live")
i = 0
while True:
    target = "b" if current == "a" else "a"
    create = m.CreateAlias(collection_name=target, alias_name="live")
    actions = [m.CreateAliasOperation(create_alias=create)]
    if current is not None:
        actions.insert(0, m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name="live")))
    db.update_aliases(actions)
    print(target, flush=True)
    current = target
    i += 1
"""


def acknowledged_then_killed(child: str, folder: Path, acks: int) -> str:
    """Run ``child`` on ``folder``, SIGKILL it after at least ``acks`` acknowledgements
    (printed lines); returns the last line it printed whole. The child goes on printing
    while the test reads, so lines after the ``acks``-th may be waiting in the pipe: they
    were acknowledged too (CI on Python 3.10 saw 28 when 25 had been read)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        seen = [proc.stdout.readline() for _ in range(acks)]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        seen += proc.stdout.read().splitlines(keepends=True)
        proc.stdout.close()
    whole = [line.strip() for line in seen if line.endswith("\n")]
    assert len(whole) >= acks and all(whole), "the child died before acknowledging"
    return whole[-1]


@pytest.mark.parametrize("acks", [1, 7, 40])
def test_alias_switches_survive_sigkill(tmp_path: Path, acks: int) -> None:
    last = acknowledged_then_killed(CHILD, tmp_path, acks)
    after = "b" if last == "a" else "a"
    db = Database(tmp_path)
    try:
        aliases = {a.alias_name: a.collection_name for a in db.list_aliases().aliases}
        assert aliases.get("live") in (last, after)
        assert list(aliases) == ["live"]
    finally:
        db.close()


UPDATE_CHILD = """
import sys
from shoal.engine import Database
from shoal import models as m

db = Database(sys.argv[1])
if not db.collection_exists("c"):
    db.create_collection("c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
i = 0
while True:
    i += 1
    db.update_collection("c", m.UpdateCollection(metadata={"n": i}))
    print(i, flush=True)
"""


@pytest.mark.parametrize("acks", [1, 25])
def test_update_collection_survives_sigkill(tmp_path: Path, acks: int) -> None:
    last = int(acknowledged_then_killed(UPDATE_CHILD, tmp_path, acks))
    db = Database(tmp_path)
    try:
        metadata = db.collection("c").info().config.metadata
        assert metadata is not None and metadata["n"] in (last, last + 1)
    finally:
        db.close()


VECTORS_CHILD = """
import sys
import threading
import shoal.engine.vector_names as vector_names
from shoal.engine import Database
from shoal import models as m
from shoal.storage.sqlite import CollectionStore

db = Database(sys.argv[1])
if not db.collection_exists("c"):
    config = m.CreateCollection(
        vectors={"a": m.VectorParams(size=2, distance="Dot")},
        sparse_vectors={"s": m.SparseVectorParams()},
    )
    db.create_collection("c", config)
    points = [
        m.PointStruct(id=i, vector={"a": [float(i), 1.0], "s": {"indices": [i], "values": [1.0]}})
        for i in range(3000)
    ]
    db.collection("c").upsert(points)

# With a step number (argv 3), the rewrite of that step stops for good (and says "stop")
# after its first batch of blobs ("mid") or once committed ("after"): the test kills it there.
mode, stop_at = (sys.argv[2], int(sys.argv[3])) if len(sys.argv) > 2 else ("", 0)
vector_names.BATCH = 500
relayout = CollectionStore.relayout


def stop():
    print("stop", flush=True)
    threading.Event().wait()


def first_batch_then_stop(batches):
    yield next(iter(batches))
    stop()


def gated(store, meta, batches):
    if i != stop_at:
        return relayout(store, meta, batches)
    if mode == "mid":
        batches = first_batch_then_stop(batches)
    relayout(store, meta, batches)
    stop()


CollectionStore.relayout = gated
i = 0
while True:
    i += 1
    if i % 2:  # a dense vector before the sparse one in every blob: all of them rewritten
        size = i % 5 + 1
        spec = m.DenseVectorNameConfig(dense=m.DenseVectorConfig(size=size, distance="Dot"))
        db.create_vector_name("c", "x", spec)
        update = m.UpdateVectors(points=[m.PointVectors(id=i, vector={"x": [1.0] * size})])
        db.collection("c").update_vectors(update)
    else:
        db.delete_vector_name("c", "x")
    print(i, flush=True)
"""


def check_vectors(folder: Path, step: int, updated: bool | None) -> None:
    """The collection in ``folder`` has the layout of after ``step`` (0: before any), and
    every point reads back whole (never blobs of two layouts): ``a`` and ``s`` as written,
    ``x`` (after an odd step, with the size that step gave it) on the point that step
    updated when ``updated`` (None: maybe)."""
    db = Database(folder)
    try:
        col = db.collection("c")
        vectors = col.config.vectors
        assert isinstance(vectors, dict)
        assert sorted(vectors) == (["a", "x"] if step % 2 else ["a"])
        if step % 2:
            assert vectors["x"].size == step % 5 + 1
        records = col.retrieve(list(range(3000)), True, True)
        assert len(records) == 3000
        for r in records:
            assert isinstance(r.vector, dict)
            assert r.vector["a"] == [float(r.id), 1.0]
            assert r.vector["s"].indices == [r.id] and r.vector["s"].values == [1.0]
            has_x = "x" in r.vector
            if r.id != step or not step % 2:
                assert not has_x
            elif updated is not None:
                assert has_x == updated
            if has_x:
                assert r.vector["x"] == [1.0] * (step % 5 + 1)
    finally:
        db.close()


@pytest.mark.parametrize("acks", [1, 6, 15])
def test_vector_name_changes_survive_sigkill(tmp_path: Path, acks: int) -> None:
    last = int(acknowledged_then_killed(VECTORS_CHILD, tmp_path, acks))
    try:
        check_vectors(tmp_path, last, True)
    except AssertionError:  # the next step's change may have been stored, not acknowledged
        check_vectors(tmp_path, last + 1, None)


@pytest.mark.parametrize(("mode", "step"), [("mid", 1), ("mid", 2), ("after", 1), ("after", 4)])
def test_a_kill_during_a_vector_name_change_leaves_one_layout(
    tmp_path: Path, mode: str, step: int
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", VECTORS_CHILD, str(tmp_path), mode, str(step)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline().strip()]
        while lines[-1] not in ("stop", ""):
            lines.append(proc.stdout.readline().strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert lines == [*map(str, range(1, step)), "stop"]
    if mode == "mid":  # killed inside the rewrite's transaction: the old layout
        check_vectors(tmp_path, step - 1, True)
    else:  # killed once it committed, before the step's update_vectors: the new layout
        check_vectors(tmp_path, step, False)
