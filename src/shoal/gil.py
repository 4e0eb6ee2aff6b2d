"""Sharing the GIL: long loops on worker threads let the event loop's thread run.

CPython gives the GIL to a waiting thread when the holder blocks (I/O, a lock, a sleep) or,
failing that, once the waiter has waited the switch interval (5 ms by default). The engine
never runs on the event loop, but a worker thread that runs Python for 20 ms (converting,
packing and applying a 1,000-point upsert) made the loop's every wake-up in that time late
by a whole interval: loop-lag p99 sat at ~5 ms while any such write ran.

So the engine's loops over many points or rows go through :func:`shared`, which every few
dozen items calls :func:`share`: once the thread has run for ``SHARE_AFTER`` since it last
let go, it releases the GIL for a moment (``time.sleep(0)``), and a waiting thread takes
it. Without a waiter this costs ~1 µs per millisecond of work. ``bench/loop_lag.py`` and
``bench/soak.py`` measure the effect. (The switch interval is the interpreter's, the
application's to set; Shoal leaves it alone.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

SHARE_AFTER = 0.001  # seconds of running before the thread lets another one have the GIL
EVERY = 32  # items between two looks at the clock (~1 µs each)

_last = threading.local()


def share() -> None:
    """Let another thread have the GIL if this one has run ``SHARE_AFTER`` since it last
    did (or never did)."""
    now = time.perf_counter()
    if now - getattr(_last, "at", 0.0) >= SHARE_AFTER:
        time.sleep(0)  # releases the GIL; a thread waiting for it is woken and takes it
        _last.at = time.perf_counter()


def shared(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """``items``, calling :func:`share` every ``every`` of them.

    Args:
        items: what a long loop iterates over.
        every: items between two calls.

    Yields:
        The items, in order.
    """
    for i, item in enumerate(items):
        # Not before the first item: a short loop (a query's one vector) is no long run,
        # and a sleep there handed the GIL to any waiting thread for up to the switch
        # interval on every query (1.5 ms per query measured with a busy indexer thread).
        if i and not i % every:
            share()
        yield item
