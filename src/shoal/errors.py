"""One exception tree for everything Shoal rejects.

Every error carries an HTTP status so the server can turn it into Qdrant's error envelope
without a lookup table, and every message names the bad value and what was expected.
This module imports nothing from shoal: every floor may import it.
"""

from __future__ import annotations

import reprlib
from typing import Any

_shown_repr = reprlib.Repr()
_shown_repr.maxstring = _shown_repr.maxother = 80
_shown_repr.maxlevel = 3


def shown(value: Any) -> str:
    """A short repr of a caller's value for an error message: bounded in length and depth,
    safe for self-referencing and very deep structures (``repr`` of a list nested 1,000
    deep raises RecursionError, which an error message must never do)."""
    try:
        return _shown_repr.repr(value)
    except (RecursionError, ValueError, TypeError):
        return f"<{type(value).__name__}>"


class ShoalError(Exception):
    """Base of every error Shoal raises on purpose."""

    status_code: int = 500
    # Whether the message may go out in a 5xx answer: only for classes whose messages are
    # built to name no server path or internals (a 5xx answer otherwise names just the
    # class and an incident id).
    exposable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ShoalError):
    """The request itself is wrong; retrying it unchanged fails again."""

    status_code = 400


class CollectionNotFound(ShoalError):
    """The named collection does not exist."""

    status_code = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Not found: Collection `{name}` doesn't exist!")
        self.collection_name = name


class CollectionAlreadyExists(ShoalError):
    """create_collection named a collection that already exists."""

    status_code = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"Wrong input: Collection `{name}` already exists!")
        self.collection_name = name


class PointNotFound(ShoalError):
    """A point id named in a query or lookup does not exist."""

    status_code = 404

    def __init__(self, point_id: object) -> None:
        super().__init__(f"Not found: No point with id {point_id} found")
        self.point_id = point_id


class AliasNotFound(ShoalError):
    """An alias named in a request does not exist."""

    status_code = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Not found: Alias `{name}` doesn't exist!")
        self.alias_name = name


class SnapshotNotFound(ShoalError):
    """A snapshot named in a request does not exist."""

    status_code = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Not found: Snapshot `{name}` doesn't exist!")
        self.snapshot_name = name


class InvalidCollectionName(BadRequest):
    """A collection name is empty, too long or contains a forbidden character."""


class InvalidConfig(BadRequest):
    """A collection or index configuration value is out of range."""


class WrongVectorSize(BadRequest):
    """A vector's length differs from the collection's configured size."""

    def __init__(self, expected: int, got: int, *, name: str = "", where: str = "") -> None:
        label = f" `{name}`" if name else ""
        at = f" ({where})" if where else ""
        super().__init__(
            f"Wrong input: Vector dimension error: expected dim: {expected}, got {got}"
            f" for vector{label}{at}"
        )
        self.expected, self.got = expected, got


class InvalidVector(BadRequest):
    """A vector is malformed: NaN or infinite components, wrong type, unknown name."""


class InvalidPointId(BadRequest):
    """A point id is neither an unsigned 64-bit integer nor a UUID."""


class InvalidFilter(BadRequest):
    """A filter (structured or expression) is malformed or ill-typed."""

    def __init__(self, message: str, *, expression: str | None = None, position: int | None = None):
        if expression is not None and position is not None:
            caret = " " * position + "^"
            message = f"{message} at position {position}\n  {expression}\n  {caret}"
        super().__init__(f"Bad filter: {message}")
        self.expression, self.position = expression, position


class FilterTooLarge(InvalidFilter):
    """A filter exceeds a limit on its size: ``filter_max_conditions`` (conditions in the
    whole filter) or ``condition_max_size`` (values in one condition, such as the list of a
    ``MatchAny`` or of ``in``), with the names and meaning of Qdrant's strict mode.

    Attributes:
        limit: the limit's name.
        value: what the filter has.
        maximum: what the limit allows.
    """

    def __init__(self, limit: str, value: int, maximum: int, advice: str) -> None:
        what = "Filter condition" if limit == "filter_max_conditions" else "Condition size"
        super().__init__(
            f"{what} limit reached ({value} > {maximum}): {limit} is {maximum}. Help: {advice}"
        )
        self.limit, self.value, self.maximum = limit, value, maximum


class InvalidPayload(BadRequest):
    """A payload is not a JSON object, or a payload operation is malformed."""


class InvalidQuery(BadRequest):
    """A query names an unknown vector, has a bad limit, or is otherwise malformed."""


class NotSupported(BadRequest):
    """A valid Qdrant setting, request field or query kind that Shoal does not honour.

    Shoal never accepts such a value and drops it: the request is refused, and the message
    names the field (``hnsw_config.on_disk=true is not supported ...``) or the feature.
    """


class StrictModeError(BadRequest):
    """A request goes over a limit of its collection's strict mode (``strict_mode_config``:
    ``max_query_limit``, ``upsert_max_batchsize``, a filter on a key without an index ...);
    the message names the limit, as Qdrant's does. Nothing was changed."""


class RequestTimeout(ShoalError):
    """A query, scroll, count or delete by filter ran past its deadline (its ``timeout``,
    or the server's default), or was abandoned because its client went away. Qdrant
    answers a timed-out request the same way: status 408."""

    status_code = 408


class InvalidSnapshot(BadRequest):
    """A file given to recover is not a Shoal snapshot, or a damaged or incomplete one;
    nothing was changed."""


class StorageError(ShoalError):
    """The storage layer failed (disk full, corrupt file, I/O error)."""

    status_code = 500


class WriteNotStored(StorageError):
    """Storage refused a write (disk full, an I/O error): nothing of it was applied.

    Its message names the write's operation id and the system's reason, never a path.
    """

    exposable = True


class Overloaded(ShoalError):
    """Too many writes are waiting: retry later (HTTP 429)."""

    status_code = 429


class RateLimited(Overloaded):
    """A collection's strict-mode rate limit (``read_rate_limit``, ``write_rate_limit``) has
    no tokens left for the request (HTTP 429, as Qdrant). Nothing was changed.

    Attributes:
        retry_after: seconds until the request would be allowed, or None when it never
            would be (it costs more than the limit's capacity: split it).
    """

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageLocked(StorageError):
    """Another process holds the storage path.

    Args:
        path: the storage folder.
        pid: the process holding it, if known.
        served_at: the URL of the ``shoal serve`` holding it, if that is what holds it.
    """

    status_code = 409

    def __init__(self, path: str, pid: int | None = None, served_at: str | None = None) -> None:
        who = "another process" if pid is None else f"another process (pid {pid})"
        if served_at:
            advice = (
                f"it is served by `shoal serve` at {served_at}: connect to it with "
                f"Client('{served_at}'), or stop that server to open the folder here."
            )
        else:
            advice = (
                "Shoal's embedded mode serves one process at a time; to share the data "
                f"between processes, run `shoal serve --path {path}` and connect with "
                "Client('http://127.0.0.1:6333')."
            )
        super().__init__(f"Storage folder {path} is already opened by {who}; {advice}")
        self.path, self.pid, self.served_at = path, pid, served_at


class ClientClosed(ShoalError):
    """A method was called on a client after close()."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__("This client is closed; create a new one")


class EmbeddingError(ShoalError):
    """The embedding model could not be loaded or run."""


class Unauthorized(ShoalError):
    """The server needs an api key and the request has none or a wrong one."""

    status_code = 401


class Forbidden(ShoalError):
    """The api key is valid but may not do this (a read-only key writing)."""

    status_code = 403


class RemoteError(ShoalError):
    """A server answered with an error that maps to no more specific class."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


__all__ = [
    "AliasNotFound",
    "BadRequest",
    "ClientClosed",
    "CollectionAlreadyExists",
    "CollectionNotFound",
    "EmbeddingError",
    "FilterTooLarge",
    "Forbidden",
    "InvalidCollectionName",
    "InvalidConfig",
    "InvalidFilter",
    "InvalidPayload",
    "InvalidPointId",
    "InvalidQuery",
    "InvalidSnapshot",
    "InvalidVector",
    "NotSupported",
    "Overloaded",
    "PointNotFound",
    "RateLimited",
    "RemoteError",
    "RequestTimeout",
    "ShoalError",
    "SnapshotNotFound",
    "StorageError",
    "StorageLocked",
    "StrictModeError",
    "Unauthorized",
    "WriteNotStored",
    "WrongVectorSize",
]
