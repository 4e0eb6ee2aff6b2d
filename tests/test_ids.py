"""Point ids: exactly the UUID spellings Qdrant's server reads, and one point per UUID."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal import Client
from shoal import models as m
from shoal.errors import InvalidPointId
from shoal.ids import canonical_id, parse_uuid, path_id

U = "67e55044-10b1-426f-9247-bb680e5fe0c8"

_HEX = b"0123456789abcdefABCDEF"


def _rust_hyphenated(s: bytes) -> bytes | None:
    # uuid-rs src/parser.rs, parse_hyphenated: hyphens at 8, 13, 18, 23, hex elsewhere.
    if len(s) != 36 or any(s[i] != ord("-") for i in (8, 13, 18, 23)):
        return None
    digits = bytes(b for i, b in enumerate(s) if i not in (8, 13, 18, 23))
    return digits if all(b in _HEX for b in digits) else None


def rust_parse_str(text: str) -> str | None:
    """An independent port of the Rust uuid crate's ``Uuid::parse_str`` (uuid-rs 1.x
    src/parser.rs ``try_parse``): it dispatches on the length in UTF-8 bytes."""
    s = text.encode("utf-8", "surrogatepass")
    digits: bytes | None
    if len(s) == 32:
        digits = s if all(b in _HEX for b in s) else None
    elif len(s) == 36:
        digits = _rust_hyphenated(s)
    elif len(s) == 38 and s[:1] == b"{" and s[-1:] == b"}":
        digits = _rust_hyphenated(s[1:-1])
    elif len(s) == 45 and s.startswith(b"urn:uuid:"):
        digits = _rust_hyphenated(s[9:])
    else:
        digits = None
    return None if digits is None else str(uuid.UUID(hex=digits.decode()))


ACCEPTED = [
    U,
    U.upper(),
    U.replace("-", ""),
    U.replace("-", "").upper(),
    "{" + U + "}",
    "{" + U.upper() + "}",
    "urn:uuid:" + U,
    "urn:uuid:" + U.upper(),
]

REJECTED = [
    # Python's uuid.UUID reads every one of these as U.
    U.replace("6", "\uff16"),  # a full-width digit six
    "{" + U.replace("-", "") + "}",  # braces around the simple form
    "urn:uuid:" + U.replace("-", ""),  # a urn of the simple form
    "URN:UUID:" + U,  # the urn prefix is lowercase only
    "uuid:" + U,
    "urn:" + U,
    U[:7] + "-" + U[7] + U[9:],  # a hyphen moved
    U.replace("-", "", 1),  # one hyphen missing
    "67e5-5044-10b1-426f-9247-bb680e5fe0c8",  # an extra hyphen
    " " + U,
    U + "\n",
    U.replace("-", "")[:16] + "_" + U.replace("-", "")[16:31],  # an underscore (int() allows)
    "+" + U.replace("-", "")[1:],  # a sign (int() allows)
    "{" + U,
    U + "}",
    "",
    "5",
    "0x" + U.replace("-", "")[2:],
]


@pytest.mark.parametrize("spelling", ACCEPTED)
def test_qdrant_spellings_name_one_point(spelling: str) -> None:
    assert canonical_id(spelling) == U
    assert rust_parse_str(spelling) == U


@pytest.mark.parametrize("spelling", REJECTED)
def test_other_spellings_are_invalid(spelling: str) -> None:
    assert rust_parse_str(spelling) is None
    with pytest.raises(InvalidPointId) as info:
        canonical_id(spelling)
    assert repr(spelling) in info.value.message


@given(st.uuids())
def test_every_spelling_of_a_uuid_is_canonical(value: uuid.UUID) -> None:
    hyphenated = str(value)
    for spelling in (hyphenated, value.hex, "{" + hyphenated + "}", "urn:uuid:" + hyphenated):
        for cased in (spelling, spelling.replace(spelling[-12:], spelling[-12:].upper())):
            assert canonical_id(cased) == hyphenated


# Near-UUIDs: a valid spelling with a few characters replaced, inserted or deleted, drawn
# from what makes a parser slip (hyphens, braces, urn parts, non-ASCII digits, signs).
_EDITS = st.sampled_from([*"-{}:_+ 0aFgG", "\uff10", "\u0660", "\u00e9", "urn:uuid:"])


@st.composite
def near_uuids(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(ACCEPTED))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "replace", "delete"]))
        edit = draw(_EDITS)
        if kind == "insert":
            text = text[:at] + edit + text[at:]
        elif kind == "replace":
            text = text[:at] + edit + text[at + 1 :]
        else:
            text = text[:at] + text[at + 1 :]
    return text


@given(st.one_of(near_uuids(), st.text(max_size=50)))
def test_parser_agrees_with_qdrants(text: str) -> None:
    assert parse_uuid(text) == rust_parse_str(text)
    expected = rust_parse_str(text)
    if expected is None:
        with pytest.raises(InvalidPointId):
            canonical_id(text)
    else:
        assert canonical_id(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7),
        ("+7", 7),
        ("007", 7),
        (str(2**64 - 1), 2**64 - 1),
        ("0" * 25 + "9", 9),
        # Too large for 64 bits but 32 hex digits: Qdrant reads it as a UUID.
        ("1" * 32, "11111111-1111-1111-1111-111111111111"),
        (U, U),
        ("{" + U + "}", U),
    ],
)
def test_path_ids(raw: str, expected: object) -> None:
    assert path_id(raw) == expected


@pytest.mark.parametrize("raw", ["-7", "+", "", str(2**64), "\uff17", "1" * 5000, "7 "])
def test_bad_path_ids(raw: str) -> None:
    with pytest.raises(InvalidPointId):
        path_id(raw)


def test_near_uuid_does_not_alias_a_point() -> None:
    with Client(":memory:") as client:
        client.create_collection("c", m.VectorParams(size=2, distance=m.Distance.DOT))
        client.upsert("c", [m.PointStruct(id=U, vector=[1.0, 0.0])])
        for alias in (U.replace("6", "\uff16"), U[:7] + "-" + U[7] + U[9:]):
            with pytest.raises(InvalidPointId):
                client.upsert("c", [m.PointStruct(id=alias, vector=[0.0, 1.0])])
            with pytest.raises(InvalidPointId):
                client.retrieve("c", [alias])
        assert client.retrieve("c", [U], with_vectors=True)[0].vector == [1.0, 0.0]
