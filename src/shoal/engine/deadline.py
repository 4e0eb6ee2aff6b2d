"""Deadlines: how long a request's engine work may run, and how it is stopped early.

A face (the server, the async client) makes one ``Deadline`` per query, scroll, count or
delete by filter, from the request's ``timeout`` or a default, and hands it to the engine.
The engine calls ``check()`` between chunks of its work (a few hundred rows of filter
evaluation, a group of queries, a widening round of an index search), never per point: a
check is one clock read and one comparison, ~0.1 µs. ``cancel()`` moves the deadline to now
from any thread, so a server whose client disconnected, or that is shutting down, gets its
worker thread back at the next check instead of when the work would have ended.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from shoal.errors import RequestTimeout, ShoalError

# The largest ``timeout`` a request may give, in seconds: Qdrant's is a u64. The client and
# the server refuse more (a larger int is no float, and a deadline is one).
MAX_TIMEOUT = 2**64 - 1


class Deadline:
    """When one request's work must stop.

    Args:
        timeout: seconds from now; None for no time limit (it can still be cancelled).
        operation: what is timed, named in the error as Qdrant names it (``Search``,
            ``scroll``, ``count``, ``delete``).
        requested: whether the request asked for ``timeout`` (False: a server's default),
            which a collection's strict mode limits (``max_timeout``).
    """

    __slots__ = ("_at", "_error", "operation", "requested", "timeout")

    def __init__(
        self, timeout: float | None = None, operation: str = "Search", requested: bool = True
    ) -> None:
        self.timeout = timeout
        self.requested = requested
        self.operation = operation
        self._at = math.inf if timeout is None else time.monotonic() + timeout
        self._error: ShoalError | None = None

    def cancel(self, error: ShoalError | None = None) -> None:
        """Move the deadline to now: the work stops at its next check (thread-safe).

        Args:
            error: what the work raises then; by default a ``RequestTimeout`` saying the
                request was abandoned.
        """
        # The error is stored before the time: a thread that sees the new time sees it too.
        self._error = error or RequestTimeout(
            f"Timeout: Operation '{self.operation}' was abandoned: its request was cancelled"
        )
        self._at = -math.inf

    def expired(self) -> bool:
        """Whether the work should stop now."""
        return time.monotonic() >= self._at

    def check(self) -> None:
        """Return if there is time left.

        Raises:
            RequestTimeout: the deadline has passed (Qdrant's 408 and message).
            ShoalError: the error the deadline was cancelled with.
        """
        if time.monotonic() >= self._at:
            raise self.failure()

    def failure(self) -> ShoalError:
        """The error for work stopped by this deadline."""
        if self._error is not None:
            return self._error
        # Qdrant's words: a CollectionError::Timeout wrapped in a StorageError::Timeout.
        return RequestTimeout(
            f"Timeout: Timeout error: Operation '{self.operation}' timed out after "
            f"{_duration(self.timeout)}"
        )


class _Never(Deadline):
    """The deadline of work nobody limits: it cannot be cancelled (it is shared)."""

    __slots__ = ()

    def cancel(self, error: ShoalError | None = None) -> None:
        raise TypeError("NO_DEADLINE is shared and cannot be cancelled; make a Deadline()")


NO_DEADLINE: Deadline = _Never()


class _Latest(Deadline):
    """The deadline of a batch shared by several requests: the work goes on while any of
    them still wants it, so it stops only when every member's deadline has passed."""

    __slots__ = ("_members",)

    def __init__(self, members: Sequence[Deadline]) -> None:
        super().__init__(None, members[0].operation)
        self._members = tuple(members)

    def cancel(self, error: ShoalError | None = None) -> None:
        for member in self._members:
            member.cancel(error)

    def expired(self) -> bool:
        now = time.monotonic()
        return all(now >= m._at for m in self._members)

    def check(self) -> None:
        if self.expired():
            raise self._members[0].failure()


def latest(deadlines: Sequence[Deadline | None]) -> Deadline:
    """One deadline for work done on behalf of several requests (a coalesced batch).

    Args:
        deadlines: the requests' deadlines; None for a request without one.

    Returns:
        A deadline that expires when all of them have: ``NO_DEADLINE`` if any request has
        none, the deadline itself for a batch of one.
    """
    if not deadlines or any(d is None or d is NO_DEADLINE for d in deadlines):
        return NO_DEADLINE
    members = [d for d in deadlines if d is not None]
    unique = list(dict.fromkeys(members))  # a caller's batch shares one deadline
    return unique[0] if len(unique) == 1 else _Latest(unique)


def _duration(seconds: float | None) -> str:
    # Rust's Debug format of a Duration, as Qdrant prints it: 5s, 1.5s, 250ms.
    if seconds is None:
        return "an unlimited time"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


__all__ = ["NO_DEADLINE", "Deadline", "latest"]
