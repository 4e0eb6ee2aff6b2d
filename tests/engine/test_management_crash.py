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
