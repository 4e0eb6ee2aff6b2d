"""Crash test: every write acknowledged with ``wait=True`` survives a SIGKILL.

A child process (``crash_child.py``) upserts small batches and prints each id only after
``upsert`` returned. The parent reads those lines and SIGKILLs the child after a random
number of acknowledgements (no sleeps: the kill is driven by what the child printed), then
reopens the storage folder and checks that every acknowledged point is there, whole. The
rounds share one folder, so each reopen also recovers everything before it.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import shoal

CHILD = Path(__file__).with_name("crash_child.py")
ROUNDS = 20
WATCHDOG_SECONDS = 120
IDS_PER_ROUND = 100_000  # round r writes numbers [r * IDS_PER_ROUND, (r + 1) * IDS_PER_ROUND)

_spec = importlib.util.spec_from_file_location("shoal_crash_child", CHILD)
assert _spec is not None and _spec.loader is not None
child = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(child)


def run_child_until_killed(path: Path, first: int, seed: int, acks_wanted: int) -> list[int]:
    """Start a writer, SIGKILL it after ``acks_wanted`` acknowledgements, and return every
    number it acknowledged (lines already in the pipe at the kill count too)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(first), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    # A watchdog, not a synchronisation: a child that hangs fails the test instead of
    # blocking readline() forever.
    watchdog = threading.Timer(WATCHDOG_SECONDS, proc.kill)
    watchdog.start()
    acked: list[int] = []
    try:
        line = proc.stdout.readline()
        assert line == "ready\n", f"child failed to start: {line!r} {proc.stderr.read()}"
        while len(acked) < acks_wanted:
            line = proc.stdout.readline()
            assert line.endswith("\n"), f"child died: {proc.stderr.read()}"
            acked.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # A line cut short by the kill was never fully written: not an acknowledgement.
    acked.extend(int(x) for x in rest.split("\n")[:-1])
    return acked


def stored_vectors(vector: Any) -> dict[str, object]:
    """A record's vectors in the child's form (a bare list is the unnamed vector alone)."""
    if isinstance(vector, list):
        return {"": vector}
    return {
        name: v if isinstance(v, list) else {"indices": v.indices, "values": v.values}
        for name, v in vector.items()
    }


def check_recovered(path: Path, acked: set[int], rounds_done: int) -> int:
    """Every acknowledged point is present and whole; anything else present (written but
    not yet acknowledged at the kill) is whole too. Returns the point count."""
    with shoal.Client(path=path) as client:
        ids: list[Any] = [child.point_id(n) for n in sorted(acked)]
        records = client.retrieve(child.COLLECTION, ids, with_vectors=True)
        found = {r.id: r for r in records}
        missing = [pid for pid in ids if pid not in found]
        assert not missing, f"{len(missing)} acknowledged points lost, e.g. {missing[:5]}"
        points, offset = [], None
        while True:
            page, offset = client.scroll(
                child.COLLECTION, limit=1000, offset=offset, with_vectors=True
            )
            points.extend(page)
            if offset is None:
                break
        for rec in points:
            n = rec.payload["n"] if rec.payload else None
            assert isinstance(n, int), f"point {rec.id} lost its payload: {rec.payload}"
            assert n < rounds_done * IDS_PER_ROUND, rec.id
            assert rec.id == child.point_id(n)
            assert rec.payload == child.payload(n)
            got, want = stored_vectors(rec.vector), child.vectors(n)
            assert got.keys() == want.keys(), rec.id
            assert got[""] == pytest.approx(want[""], rel=1e-6)
            assert got.get("s") == want.get("s")  # sparse values are exact in float32
        assert client.count(child.COLLECTION).count == len(points)
        return len(points)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    path = tmp_path / "db"
    acked: set[int] = set()
    for rnd in range(ROUNDS):
        wanted = rng.randint(5, 200)
        got = run_child_until_killed(path, rnd * IDS_PER_ROUND, rng.randrange(2**32), wanted)
        assert len(got) >= wanted and len(set(got)) == len(got)
        acked.update(got)
        total = check_recovered(path, acked, rnd + 1)
        assert total >= len(acked)
