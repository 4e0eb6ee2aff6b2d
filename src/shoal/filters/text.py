"""Full-text matching on payload strings, with Qdrant's server semantics.

What Qdrant's server does (``lib/segment/src/index/field_index/full_text_index/``
``full_text_index_read.rs``, ``inverted_index/mod.rs``, ``mutable_text_index/lifecycle.rs``;
``lib/segment/src/payload_storage/condition_checker.rs``), and so what Shoal does:

- Query and stored strings are both tokenized, and tokens must match whole: ``text``
  holds when every query token is a token of the document, ``text_any`` when one is,
  ``phrase`` when the query tokens stand consecutively in the document. A query without
  tokens (empty, or only stop words) matches nothing.
- Without a text index on the key, Qdrant 1.19.1 and later tokenize with the default
  ``word`` tokenizer and lowercasing (qdrant#10341 for ``text`` and ``phrase``, qdrant#10526
  for ``text_any``; Qdrant up to 1.19.0 matched raw substrings there), and each string
  value is matched on its own: with an array, some element must match.
- With a text index, its settings tokenize both sides (``TextIndexParams``: tokenizer,
  lowercase, min/max token length, stop words, stemmer), and a point's strings form one
  document: an array's elements pool their tokens for ``text`` / ``text_any``, and a phrase
  cannot span two elements. ``phrase`` needs ``phrase_matching: true`` on the index;
  without it Qdrant finds nothing, and so does Shoal.

Milvus's ``text_match(field, 'words')`` holds when the string has any of the words and
``phrase_match(field, 'phrase', slop)`` when the words stand in a window where each lies at
most ``slop`` positions from where the exact phrase would put it (Milvus's "smallest
range" slop: ``slop`` 0 is the exact phrase, 2 also accepts two words swapped). Both use
the key's text index settings if it has one, otherwise the default tokenizer (Milvus's
default analyzer also splits words and lowercases them).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from shoal.errors import InvalidConfig, NotSupported
from shoal.text import Analyzer, AnalyzerParams, parse_stemmer, parse_stopwords
from shoal.text.analysis import ARRAY_BOUNDARY
from shoal.text.languages import flag_setting, length_setting, tokenizer_setting

TextMode = Literal["all", "any", "phrase"]
_WHAT = "text index"
# Settings of Qdrant's TextIndexParams that place the index, not analyse text: the engine
# decides what to do with them.
STORAGE_FIELDS = frozenset({"on_disk", "memory", "enable_hnsw"})
_ANALYSIS_FIELDS = frozenset(
    {
        "type",
        "tokenizer",
        "min_token_len",
        "max_token_len",
        "lowercase",
        "ascii_folding",
        "phrase_matching",
        "stopwords",
        "stemmer",
    }
)


@dataclass(frozen=True)
class TextIndex:
    """A ``text`` payload index's settings (Qdrant's ``TextIndexParams``) that change what
    matches.

    Attributes:
        analyzer: how documents and queries become tokens.
        phrase_matching: whether the index keeps token positions (``phrase`` needs them).
    """

    analyzer: AnalyzerParams = field(default_factory=AnalyzerParams)
    phrase_matching: bool = False


#: What a key without a text index is tokenized with (Qdrant's ``TextIndexParams`` defaults).
UNINDEXED = AnalyzerParams()


def text_index_params(schema: Mapping[str, Any]) -> TextIndex:
    """Read Qdrant's ``TextIndexParams`` (the ``field_schema`` of a ``text`` payload index).

    Args:
        schema: the JSON object, ``{"type": "text", ...}``. The storage fields
            ``on_disk``, ``memory`` and ``enable_hnsw`` are left to the caller.

    Returns:
        The settings that decide matching.

    Raises:
        InvalidConfig: an unknown field, a wrong type or value.
        NotSupported: ``tokenizer`` ``multilingual``, ``ascii_folding`` true, stop words of
            a language other than English, the Armenian stemmer.
    """
    unknown = sorted(set(schema) - _ANALYSIS_FIELDS - STORAGE_FIELDS)
    if unknown:
        raise InvalidConfig(f"unknown text index fields {unknown}")
    if schema.get("type") != "text":
        raise InvalidConfig(f"text index type must be 'text', got {schema.get('type')!r}")
    tokenizer = tokenizer_setting(schema, _WHAT)
    if flag_setting(schema, "ascii_folding", False, _WHAT):
        raise NotSupported("text index ascii_folding=true is not supported")
    lowercase = flag_setting(schema, "lowercase", True, _WHAT)
    stemmer = schema.get("stemmer")
    analyzer = AnalyzerParams(
        tokenizer=tokenizer,
        lowercase=lowercase,
        stopwords=parse_stopwords(schema.get("stopwords"), lowercase),
        stemmer=None if stemmer is None else parse_stemmer(stemmer),
        min_token_len=length_setting(schema, "min_token_len", _WHAT),
        max_token_len=length_setting(schema, "max_token_len", _WHAT),
    )
    return TextIndex(analyzer, flag_setting(schema, "phrase_matching", False, _WHAT))


@lru_cache(maxsize=64)
def analyzer_for(params: AnalyzerParams) -> Analyzer:
    """One shared analyzer per settings (it caches processed tokens)."""
    return Analyzer(params)


def smallest_slop(query: list[str], document: list[str]) -> int | None:
    """The least slop at which ``query`` matches as a phrase in ``document``, or None if a
    query token is missing.

    A query token at position ``i`` found at document position ``p`` is placed at
    ``p - i``; the slop of a choice of one position per query token is the spread of those
    placements (0: the exact phrase). This is Milvus's definition
    (``compute_phrase_match_slop``).
    """
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(document):
        positions.setdefault(token, []).append(pos)
    lists = []
    for i, token in enumerate(query):
        found = positions.get(token)
        if not found:
            return None
        lists.append([p - i for p in found])
    # Smallest range holding one value of every list: advance the list with the minimum.
    heap = [(lst[0], k, 0) for k, lst in enumerate(lists)]
    heapq.heapify(heap)
    high = max(lst[0] for lst in lists)
    best = high - heap[0][0]
    while best > 0:
        low, k, j = heapq.heappop(heap)
        best = min(best, high - low)
        if j + 1 == len(lists[k]):
            break
        nxt = lists[k][j + 1]
        high = max(high, nxt)
        heapq.heappush(heap, (nxt, k, j + 1))
    return best


class TextQuery:
    """A full-text condition, compiled: the query tokenized once.

    Args:
        query: the query text.
        mode: ``all`` (Qdrant ``text``), ``any`` (``text_any``, Milvus ``text_match``) or
            ``phrase``.
        slop: for ``phrase``: the slop allowed (Milvus's ``phrase_match``); 0 is exact.
        index: the key's text index, or None when it has none.
        pooled: match a point's strings as one document (Qdrant with a text index);
            otherwise each string on its own.
        needs_positions: ``phrase`` on an index without ``phrase_matching`` matches nothing
            (Qdrant's ``match: {phrase}``).
    """

    def __init__(
        self,
        query: str,
        mode: TextMode,
        *,
        slop: int = 0,
        index: TextIndex | None = None,
        pooled: bool = False,
        needs_positions: bool = False,
    ) -> None:
        self.analyzer = analyzer_for(UNINDEXED if index is None else index.analyzer)
        self.mode = mode
        self.slop = slop
        self.pooled = pooled and index is not None
        # Qdrant parses a phrase as a document (``parse_phrase_query``), other queries as
        # queries; the two differ for the prefix tokenizer only.
        tokens = (
            self.analyzer.document_tokens(query)
            if mode == "phrase"
            else self.analyzer.query_tokens(query)
        )
        self.tokens = tokens
        self.token_set = frozenset(tokens)
        self.never = not tokens or (
            mode == "phrase" and needs_positions and index is not None and not index.phrase_matching
        )

    def _one(self, document: list[str]) -> bool:
        if self.mode == "phrase":
            slop = smallest_slop(self.tokens, document)
            return slop is not None and slop <= self.slop
        have = set(document)
        if self.mode == "all":
            return self.token_set <= have
        return not self.token_set.isdisjoint(have)

    def matches(self, values: list[str]) -> bool:
        """Whether the strings stored at the key satisfy the condition.

        Args:
            values: the key's string values (array elements in order).

        Returns:
            True for a match.
        """
        if self.never or not values:
            return False
        tokenize = self.analyzer.document_tokens
        if not self.pooled:
            return any(self._one(tokenize(v)) for v in values)
        document: list[str] = []
        for i, value in enumerate(values):
            # Qdrant separates elements with a boundary token only in indexes that keep
            # positions; a phrase cannot match across it since no query contains it.
            if i and self.mode == "phrase":
                document.append(ARRAY_BOUNDARY)
            document.extend(tokenize(value))
        return self._one(document)
