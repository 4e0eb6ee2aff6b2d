"""`shoal serve` in which a filter on MatchText "park" parks its request inside the engine.

Run by tests/server/test_server_bounded.py as ``python park_child.py <path> <port>``. The
first row the filter is tested on prints ``PARKED`` on stdout and waits until a request's
deadline is cancelled (what the server's shutdown does), then the filter carries on. On
code without deadlines nothing ever releases it: that is the request a SIGTERM used to
wait on for minutes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from shoal.filters import evaluate
from shoal.filters import tree as t
from shoal.server import ServerConfig, serve

released = threading.Event()

try:
    from shoal.engine.deadline import Deadline
except ImportError:  # the code before deadlines: the park is never released
    pass
else:
    _cancel = Deadline.cancel

    def _cancel_and_release(self: Deadline, error: Any = None) -> None:
        _cancel(self, error)
        released.set()

    Deadline.cancel = _cancel_and_release  # type: ignore[method-assign]


def _parking(node: t.FullText) -> Callable[[dict[str, Any], int | str], bool]:
    def pred(payload: dict[str, Any], pid: int | str) -> bool:
        if not released.is_set():
            print("PARKED", flush=True)
            released.wait()
        return True

    return pred


evaluate._LEAF_BUILDERS[t.FullText] = _parking

if __name__ == "__main__":
    config = ServerConfig(path=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
    sys.exit(serve(config))
