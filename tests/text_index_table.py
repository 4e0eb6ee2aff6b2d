"""Full-text conditions on a key with and without a text payload index: a table of expected
matches (Qdrant's server semantics, ``shoal.filters.text``), run on any Shoal ``Client``
(embedded by tests/engine/test_text_index.py, over HTTP by
tests/server/test_text_index_server.py).

qdrant-client's local mode builds no text indexes (it tokenizes every key alike), so it
cannot be the reference here: the expected answers are written out instead.
"""

from __future__ import annotations

from typing import Any

from shoal import Client
from shoal import models as m

STEM = {"stemmer": {"type": "snowball", "language": "english"}}
# Index settings by name; None: no index on the key. "text" is the bare type name.
INDEXES: dict[str, dict[str, Any] | str | None] = {
    "none": None,
    "bare": "text",
    "stem": {"type": "text", **STEM},
    "stop": {"type": "text", "stopwords": "english"},
    "min3": {"type": "text", "min_token_len": 3},
    "case": {"type": "text", "lowercase": False},
    "phrase": {"type": "text", "phrase_matching": True},
    "stem_phrase": {"type": "text", "phrase_matching": True, **STEM},
}

# (index, stored value, condition, query, expected)
TABLE: list[tuple[str, Any, str, str, bool]] = [
    # Without an index: the word tokenizer and lowercasing, whole tokens, each string alone.
    ("none", "Running cats", "text", "cats", True),
    ("none", "Running cats", "text", "cat", False),  # no stemming
    ("none", "goodness", "text", "good", False),  # whole tokens, never substrings
    ("none", "Hello World", "text", "world HELLO", True),
    ("none", "the cat", "text", "the", True),  # no stop words
    ("none", "cheap hardware", "text_any", "good cheap", True),
    ("none", "machine learning models", "phrase", "machine learning", True),
    ("none", "learning machine", "phrase", "machine learning", False),
    ("none", ["foo", "bar"], "text", "foo bar", False),  # elements are not pooled
    # A bare text index: the same tokens, but a point's strings form one document.
    ("bare", "goodness", "text", "good", False),
    ("bare", "Hello World", "text", "world HELLO", True),
    ("bare", ["foo", "bar"], "text", "foo bar", True),
    ("bare", "machine learning", "phrase", "machine learning", False),  # no positions
    # Snowball stemming on both sides.
    ("stem", "Running cats", "text", "cat", True),
    ("stem", "Running cats", "text", "runs", True),
    ("stem", "Running cats", "text_any", "dogs cat", True),
    ("stem", "Running cats", "text", "dog", False),
    # English stop words dropped on both sides; a query of stop words only matches nothing.
    ("stop", "the cat", "text", "the cat", True),
    ("stop", "the cat", "text", "the", False),
    ("stop", "the cat", "text_any", "the dog", False),
    ("stop", "a cat", "text", "the cat", True),
    # Tokens shorter than min_token_len are dropped, from the query too.
    ("min3", "an ox and a cat", "text", "cat", True),
    ("min3", "an ox", "text", "ox", False),
    ("min3", "an ox and a cat", "text", "ox cat", True),
    # lowercase=false: case matters.
    ("case", "Hello World", "text", "hello", False),
    ("case", "Hello World", "text", "Hello", True),
    # phrase_matching: phrases match consecutive tokens, never across array elements.
    ("phrase", "machine learning models", "phrase", "machine learning", True),
    ("phrase", "learning machine", "phrase", "machine learning", False),
    ("phrase", ["machine", "learning"], "phrase", "machine learning", False),
    ("phrase", ["deep", "machine learning"], "phrase", "Machine-Learning", True),
    ("stem_phrase", "Running cats quickly", "phrase", "run cat", True),
    ("stem_phrase", "cats running", "phrase", "run cat", False),
]


def condition(kind: str, query: str) -> m.Filter:
    """A filter with one full-text condition on key ``t``."""
    return m.Filter.model_validate({"must": [{"key": "t", "match": {kind: query}}]})


def create(client: Client, name: str, index: str) -> None:
    """A collection with the table's points of ``index`` (id: row number, key ``t``), and
    the index on ``t``."""
    client.create_collection(name, m.VectorParams(size=2, distance="Dot"))
    points = [
        m.PointStruct(id=i, vector=[1.0, 0.0], payload={"t": value})
        for i, (which, value, *_) in enumerate(TABLE)
        if which == index
    ]
    client.upsert(name, points)
    schema = INDEXES[index]
    if schema is not None:
        client.create_payload_index(name, "t", schema)


def mismatches(client: Client, name: str, index: str) -> list[tuple[Any, ...]]:
    """The rows of ``index`` whose point matches its condition other than expected."""
    wrong = []
    for i, (which, value, kind, query, expected) in enumerate(TABLE):
        if which != index:
            continue
        flt = condition(kind, query)
        flt.must.append(m.HasIdCondition(has_id=[i]))  # type: ignore[union-attr]
        found = client.count(name, count_filter=flt).count == 1
        if found != expected:
            wrong.append((index, value, kind, query, expected))
    return wrong


def run_table(client: Client, prefix: str) -> list[tuple[Any, ...]]:
    """Every row of the table on ``client``; returns the rows answered wrongly."""
    wrong = []
    for index in INDEXES:
        create(client, f"{prefix}-{index}", index)
        wrong += mismatches(client, f"{prefix}-{index}", index)
    return wrong
