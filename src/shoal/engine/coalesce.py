"""Search coalescing across threads: concurrent searches share one batched engine pass.

Leader/follower, like group commit: a caller queues its requests and tries to take the
"busy" lock; whoever gets it runs every queued request as one batch (one matrix product for
the unfiltered ones) and hands each caller its results. An idle engine answers at once —
there is no waiting window; requests pile up only while a batch is already running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


@dataclass
class _Item(Generic[Req, Res]):
    requests: Sequence[Req]
    results: list[Res | BaseException] = field(default_factory=list)
    done: bool = False


class Coalescer(Generic[Req, Res]):
    """Runs ``run_batch`` over the requests of every caller waiting at the time.

    ``run_batch`` returns one result or exception per request, so one caller's bad request
    fails only that caller.
    """

    def __init__(self, run_batch: Callable[[list[Req]], list[Res | BaseException]]) -> None:
        self._run = run_batch
        self._queue: list[_Item[Req, Res]] = []
        self._queue_lock = threading.Lock()
        self._busy = threading.Lock()
        self.batches = 0  # engine passes made (observed by the coalescing tests)

    def submit(self, requests: Sequence[Req]) -> list[Res | BaseException]:
        item: _Item[Req, Res] = _Item(requests)
        with self._queue_lock:
            self._queue.append(item)
        with self._busy:
            if not item.done:
                self._drain()
        return item.results

    def _drain(self) -> None:
        with self._queue_lock:
            group, self._queue = self._queue, []
        flat = [r for it in group for r in it.requests]
        try:
            results = self._run(flat)
        except BaseException as exc:  # a failure of the pass itself fails every caller
            results = [exc] * len(flat)
        self.batches += 1
        start = 0
        for it in group:
            it.results = results[start : start + len(it.requests)]
            start += len(it.requests)
            it.done = True
