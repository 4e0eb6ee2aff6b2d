"""Deadlines: the engine stops a request's work at the next chunk once its deadline passes.

Nothing here waits on a clock: time comes from a fake clock, and work is stopped by
cancelling the deadline from inside the filter (the probe below) at a known row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shoal import models as m
from shoal.engine import Collection, Database, deadline
from shoal.engine.deadline import NO_DEADLINE, Deadline, latest
from shoal.engine.filtering import CHECK_EVERY
from shoal.errors import RequestTimeout, ShoalError
from shoal.filters import evaluate
from shoal.filters import tree as t

ROWS = 3000  # more than a few chunks of CHECK_EVERY rows


class FakeClock:
    """``time`` for shoal.engine.deadline: each reading is ``step`` seconds after the last."""

    def __init__(self, step: float) -> None:
        self._ticks = itertools.count(0.0, step)

    def monotonic(self) -> float:
        return next(self._ticks)


class Probe:
    """A filter leaf (MatchText "probe") that counts the rows it is asked about and, at
    row ``cancel_at``, cancels ``deadline``: the request's time runs out mid-work."""

    def __init__(self, cancel_at: int) -> None:
        self.calls = 0
        self.cancel_at = cancel_at
        self.deadline = Deadline(None, "count")

    def build(self, node: t.FullText) -> Callable[[dict[str, Any], int | str], bool]:
        def pred(payload: dict[str, Any], pid: int | str) -> bool:
            self.calls += 1
            if self.calls == self.cancel_at:
                self.deadline.cancel()
            return True

        return pred


PROBE = m.Filter(must=[m.FieldCondition(key="k", match=m.MatchText(text="probe"))])


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Probe:
    found = Probe(cancel_at=5)
    monkeypatch.setitem(evaluate._LEAF_BUILDERS, t.FullText, found.build)
    return found


@pytest.fixture
def col() -> Iterator[Collection]:
    db = Database(None)
    db.create_collection("c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
    collection = db.collection("c")
    collection.upsert(
        [m.PointStruct(id=i, vector=[1.0, i], payload={"k": "x", "n": i}) for i in range(ROWS)]
    )
    collection.create_payload_index("n", m.PayloadSchemaType.INTEGER)
    yield collection
    db.close()


WORK: dict[str, Callable[[Collection, Deadline], Any]] = {
    "count": lambda c, d: c.count(m.CountRequest(filter=PROBE), d),
    "scroll": lambda c, d: c.scroll(m.ScrollRequest(filter=PROBE, limit=ROWS), d),
    "scroll-ordered": lambda c, d: c.scroll(
        m.ScrollRequest(filter=PROBE, order_by="n", limit=ROWS), d
    ),
    "query": lambda c, d: c.query(m.QueryRequest(query=[1.0, 0.0], filter=PROBE), d),
    "query-no-vector": lambda c, d: c.query(m.QueryRequest(filter=PROBE, limit=ROWS), d),
    "delete": lambda c, d: c.delete(m.FilterSelector(filter=PROBE), True, d),
}


@pytest.mark.parametrize("work", WORK.values(), ids=WORK.keys())
def test_work_stops_at_the_next_chunk_once_the_deadline_passes(
    col: Collection, probe: Probe, work: Callable[[Collection, Deadline], Any]
) -> None:
    with pytest.raises(RequestTimeout, match="was abandoned"):
        work(col, probe.deadline)
    # Without deadline checks the filter would run on all 3,000 rows.
    assert probe.cancel_at <= probe.calls <= probe.cancel_at + CHECK_EVERY
    assert col.count(m.CountRequest()).count == ROWS  # the delete deleted nothing


def test_work_within_its_deadline_is_done(col: Collection, probe: Probe) -> None:
    probe.cancel_at = -1  # never
    assert col.count(m.CountRequest(filter=PROBE), probe.deadline).count == ROWS
    assert probe.calls == ROWS


def test_a_timed_out_request_gets_qdrants_408_and_message(
    col: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadline, "time", FakeClock(step=10.0))
    flt = m.Filter(must=[m.FieldCondition(key="k", match=m.MatchValue(value="x"))])
    with pytest.raises(RequestTimeout) as info:
        col.count(m.CountRequest(filter=flt), Deadline(5, "count"))
    assert info.value.status_code == 408
    assert info.value.message == "Timeout: Timeout error: Operation 'count' timed out after 5s"


def test_a_cancelled_deadline_raises_the_error_it_was_cancelled_with(col: Collection) -> None:
    class GoingAway(ShoalError):
        status_code = 503

    until = Deadline(60, "Search")
    until.cancel(GoingAway("Service unavailable: the server is shutting down"))
    with pytest.raises(GoingAway):
        col.query(m.QueryRequest(query=[1.0, 0.0]), until)


def test_a_batch_goes_on_while_one_of_its_queries_still_has_time(col: Collection) -> None:
    gone, waiting = Deadline(None), Deadline(None)
    gone.cancel()
    requests = [m.QueryRequest(query=[1.0, 0.0], limit=2)] * 2
    answered = col.query_many(requests, [gone, waiting])
    assert all(isinstance(a, m.QueryResponse) and len(a.points) == 2 for a in answered)
    waiting.cancel()
    stopped = col.query_many(requests, [gone, waiting])
    assert all(isinstance(a, RequestTimeout) for a in stopped)


def test_latest_is_the_member_itself_or_none_for_a_request_without_one() -> None:
    one = Deadline(5)
    assert latest([one, one]) is one
    assert latest([one, None]) is NO_DEADLINE
    assert latest([]) is NO_DEADLINE
    both = latest([one, Deadline(5)])
    assert not both.expired()
    both.cancel()
    assert one.expired()


def test_the_shared_no_deadline_cannot_be_cancelled() -> None:
    with pytest.raises(TypeError, match="shared"):
        NO_DEADLINE.cancel()
    assert not NO_DEADLINE.expired()


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5s"), (1.5, "1.5s"), (0.25, "250ms"), (60, "60s")]
)
def test_durations_read_as_qdrant_prints_them(
    seconds: float, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadline, "time", FakeClock(step=100.0))
    until = Deadline(seconds, "Search")
    assert until.expired()
    assert until.failure().message.endswith(f"timed out after {shown}")
