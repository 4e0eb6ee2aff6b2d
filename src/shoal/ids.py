"""Point ids: unsigned 64-bit integers or UUIDs, in one canonical form.

Base floor (beside models and errors): the engine, the filters and the clients all need the
same canonical form so that ``"5C56C793-..."`` and ``"5c56c793-..."`` name one point.

A UUID string is accepted in exactly the spellings Qdrant's server accepts. Qdrant reads a
string id with the Rust ``uuid`` crate's ``Uuid::parse_str``, which takes four shapes, told
apart by length: 32 hex digits; 8-4-4-4-12 hex digits with hyphens; that form in braces;
that form after a lowercase ``urn:uuid:``. Hex digits are ASCII, either case. Python's
``uuid.UUID`` is looser (it also takes full-width digits, underscores, surrounding
whitespace and hyphens anywhere), so it would let two different strings alias one point.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from shoal.errors import InvalidPointId, shown

PointId = int | str
U64_MAX = 2**64 - 1
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HYPHENATED = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_UUID_SPELLING = re.compile(
    rf"[0-9A-Fa-f]{{32}}|{_HYPHENATED}|\{{{_HYPHENATED}\}}|urn:uuid:{_HYPHENATED}"
)


def parse_uuid(text: str) -> str | None:
    """The canonical form of a UUID string, or None if Qdrant would not read it as one.

    Args:
        text: a candidate UUID: simple (32 hex digits), hyphenated, ``{hyphenated}`` or
            ``urn:uuid:hyphenated``; ASCII hex digits in either case.

    Returns:
        The UUID as a lowercase hyphenated string, or None for any other string.
    """
    if _CANONICAL.fullmatch(text):
        return text  # already canonical, the common case: one regex
    if not _UUID_SPELLING.fullmatch(text):
        return None
    core = text[1:-1] if text[0] == "{" else text.removeprefix("urn:uuid:")
    h = core.replace("-", "").lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def canonical_id(value: Any) -> PointId:
    """Return the canonical form of a point id.

    Args:
        value: an int in [0, 2**64 - 1], a UUID string in one of the spellings
            ``parse_uuid`` accepts, or a ``uuid.UUID``.

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
        parsed = parse_uuid(value)
        if parsed is None:
            raise InvalidPointId(
                f"Invalid point id {shown(value)}: expected an unsigned integer or a UUID string "
                "(32 hex digits, hyphenated 8-4-4-4-12, in braces, or after urn:uuid:)"
            )
        return parsed
    raise InvalidPointId(
        f"Invalid point id {shown(value)}: expected an unsigned integer or a UUID, "
        f"got {type(value).__name__}"
    )


def path_id(raw: str) -> PointId:
    """A point id written in a URL path, which carries no JSON type.

    Qdrant reads it as an unsigned integer if Rust's ``u64`` parser takes it (ASCII digits
    after an optional ``+``, at most 2**64 - 1), else as a UUID, so 32 digits too large
    for 64 bits are a UUID.

    Args:
        raw: the path segment, percent-decoded.

    Returns:
        The canonical id.

    Raises:
        InvalidPointId: neither an unsigned 64-bit integer nor a UUID.
    """
    digits = raw[1:] if raw.startswith("+") else raw
    # Leading zeros are allowed (as in Rust); beyond 20 significant digits the value is
    # too large anyway, and int() of thousands of digits is slow (refused past 4300).
    plain = digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= 20
    if plain and int(digits) <= U64_MAX:
        return int(digits)
    return canonical_id(raw)


def sort_key(pid: PointId) -> tuple[int, int]:
    """Qdrant's id order: integers first (ascending), then UUIDs by their 128-bit value."""
    if isinstance(pid, int):
        return (0, pid)
    return (1, uuid.UUID(pid).int)
