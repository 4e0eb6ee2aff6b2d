"""Requests in flight: their deadlines, clients that go away, and shutdown.

Every query, scroll, count and delete gets a ``Deadline``: Qdrant's ``timeout`` query
parameter (seconds) where the request carries one, else the server's default. The engine
checks it between chunks of work, so three things can stop a request's work on its worker
thread: the time running out, its client disconnecting (``watch_disconnect`` moves the
deadline to now), and the server shutting down (``InFlight.abort_all`` moves every
deadline to now, so uvicorn's graceful shutdown and the database's close never wait for a
runaway request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shoal.engine.deadline import Deadline
from shoal.errors import RequestTimeout
from shoal.server import wire

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def _shutting_down() -> wire.ServiceUnavailable:
    return wire.ServiceUnavailable("Service unavailable: the server is shutting down")


class InFlight:
    """The deadlines of the requests being served (used on the event loop only).

    Args:
        default_timeout: seconds a request without a ``timeout`` parameter may run.
    """

    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout
        self._deadlines: set[Deadline] = set()
        self._stopping = False

    def start(self, timeout: float | None, operation: str) -> Deadline:
        """A new request's deadline, tracked until ``finish``.

        Args:
            timeout: the request's ``timeout`` parameter, None for the default.
            operation: what is timed, as the error names it.

        Returns:
            The deadline; already cancelled if the server is shutting down.
        """
        if timeout is None:
            deadline = Deadline(self.default_timeout, operation, requested=False)
        else:
            deadline = Deadline(timeout, operation)
        if self._stopping:
            deadline.cancel(_shutting_down())
        self._deadlines.add(deadline)
        return deadline

    def finish(self, deadline: Deadline) -> None:
        """Stop tracking a request that has been answered."""
        self._deadlines.discard(deadline)

    def abort_all(self) -> int:
        """Move every request's deadline to now, and refuse the work of later ones: each
        stops at its engine's next check and is answered 503.

        Returns:
            How many requests were in flight.
        """
        self._stopping = True
        deadlines = list(self._deadlines)
        for deadline in deadlines:
            deadline.cancel(_shutting_down())
        return len(deadlines)

    def __len__(self) -> int:
        return len(self._deadlines)


async def watch_disconnect(receive: Receive, deadline: Deadline) -> None:
    """Wait until the client disconnects, then move ``deadline`` to now.

    Run it as a task while the engine works, after the request body has been read, and
    cancel it once the work is done: the server's ``receive`` then only ever answers
    ``http.disconnect``.

    Args:
        receive: the ASGI receive callable of the request.
        deadline: the request's deadline.
    """
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            deadline.cancel(
                RequestTimeout(
                    f"Timeout: Operation '{deadline.operation}' was abandoned: "
                    "the client disconnected"
                )
            )
            return
