"""shoal.gil: long loops offer the GIL once they have run SHARE_AFTER since they last did."""

from __future__ import annotations

import threading

import pytest

from shoal import gil


def test_shared_keeps_the_items_and_offers_the_gil_on_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    slept: list[int] = []
    seen: list[int] = []
    monkeypatch.setattr(gil.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(gil.time, "sleep", lambda s: slept.append(len(seen)))
    monkeypatch.setattr(gil, "_last", threading.local())  # this thread has never shared
    for item in gil.shared(range(200), every=10):
        seen.append(item)
        clock[0] += gil.SHARE_AFTER / 25  # 25 items make SHARE_AFTER
    assert seen == list(range(200))
    # A look every 10 items from the 10th on (none before the first item); the first look
    # shares (never did), then every 30 items (the first look at or past 25 items since
    # the last share).
    assert slept == [10, 40, 70, 100, 130, 160, 190]
    # A short loop (a query's one vector) never lets go, however long since the last share.
    clock[0] += 1.0
    slept.clear()
    assert list(gil.shared(["one"], every=10)) == ["one"] and slept == []


def test_a_thread_shares_only_once_it_has_run_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    clock = [5.0]
    monkeypatch.setattr(gil.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(gil.time, "sleep", slept.append)
    monkeypatch.setattr(gil, "_last", threading.local())
    gil.share()
    clock[0] += gil.SHARE_AFTER * 0.9
    gil.share()
    clock[0] += gil.SHARE_AFTER * 0.2
    gil.share()
    assert slept == [0, 0]
