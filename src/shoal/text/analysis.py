"""Qdrant's text analyzer: split text into tokens and normalise them, token for token.

Follows Qdrant's server (``lib/segment/src/index/field_index/full_text_index/tokenizers/``
``mod.rs`` and ``tokens_processor.rs``), shared there by the full-text index and BM25:

- ``word``: split at every character that is not alphanumeric in Rust's sense
  (``char::is_alphanumeric``: the Unicode property Alphabetic, or a number of category
  Nd/Nl/No). Python's ``str.isalnum`` differs (it leaves out combining vowel signs and
  other marks that are Alphabetic, so Hindi or Thai words would break apart), hence the
  ``regex`` module's ``\\p{Alphabetic}``.
- ``whitespace``: split at Unicode White_Space (Rust's ``split_whitespace``; Python's
  ``str.split`` also splits at the control characters U+001C..U+001F, which Rust does not).
- ``prefix``: words as for ``word``; a document yields every prefix of each processed word
  from ``min_token_len`` (default 1) characters up to ``max_token_len`` (default: the whole
  word); a query yields each word once, cut to ``max_token_len`` characters, with no stop
  word removal (so that a partly typed word still finds its prefixes).

Each token is then processed in Qdrant's order: dropped if empty; lowercased (full Unicode
lowercasing, as Rust's ``to_lowercase``); dropped if a stop word; stemmed; dropped if
shorter than ``min_token_len`` or (except for prefix documents) longer than
``max_token_len`` characters. ``multilingual`` (charabia and vaporetto segmentation) and
``ascii_folding`` (Lucene's folding table) are not reproduced and are refused where they
are parsed. Unicode tables are those of the installed ``regex`` module and Python, which
may be a version older or newer than the Rust standard library's of a given Qdrant build:
characters assigned in between can tokenize differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import regex
from py_rust_stemmers import SnowballStemmer

TokenizerType = Literal["word", "whitespace", "prefix"]

_WORDS = regex.compile(r"[\p{Alphabetic}\p{N}]+")
_NON_BLANK = regex.compile(r"[^\p{White_Space}]+")
# Qdrant inserts this token between the array elements of a document that keeps token
# positions; a query never contains it (``Tokenizer::tokenize_query``).
ARRAY_BOUNDARY = "\x00"
# Processed tokens remembered per analyzer (a vocabulary is far smaller than a corpus).
_CACHE_LIMIT = 1 << 17
_MISS = object()


@dataclass(frozen=True)
class AnalyzerParams:
    """How text becomes tokens (Qdrant's tokenizer and token processor settings).

    Attributes:
        tokenizer: ``word``, ``whitespace`` or ``prefix``.
        lowercase: lowercase every token (Qdrant's default: true).
        stopwords: tokens to drop, compared after lowercasing and before stemming.
        stemmer: a canonical Snowball language (``"english"``), or None for no stemming.
        min_token_len: drop tokens with fewer characters (after stemming); None: no limit.
        max_token_len: drop tokens with more characters; None: no limit.
    """

    tokenizer: TokenizerType = "word"
    lowercase: bool = True
    stopwords: frozenset[str] = frozenset()
    stemmer: str | None = None
    min_token_len: int | None = None
    max_token_len: int | None = None


class Analyzer:
    """Turns documents and queries into token lists with Qdrant's rules. Thread-safe.

    Args:
        params: the settings.
    """

    def __init__(self, params: AnalyzerParams) -> None:
        self.params = params
        self._stem = SnowballStemmer(params.stemmer).stem_word if params.stemmer else None
        self._split = _NON_BLANK.findall if params.tokenizer == "whitespace" else _WORDS.findall
        self._cache: dict[str, str | None] = {}

    def _process(self, token: str, check_max: bool) -> str | None:
        p = self.params
        if not token:
            return None
        if p.lowercase:
            token = token.lower()
        if token in p.stopwords:
            return None
        if self._stem is not None:
            token = self._stem(token)
        size = len(token)
        if (p.min_token_len is not None and size < p.min_token_len) or (
            check_max and p.max_token_len is not None and size > p.max_token_len
        ):
            return None
        return token

    def _cached(self, raw: str) -> str | None:
        hit = self._cache.get(raw, _MISS)
        if hit is _MISS:
            hit = self._process(raw, True)
            # Single dict operations are atomic under the GIL: threads racing here at
            # worst process a token twice or clear a cache twice.
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[raw] = hit
        return hit  # type: ignore[return-value]

    def _prefixes(self, word: str) -> list[str]:
        p = self.params
        first = 1 if p.min_token_len is None else p.min_token_len
        last = len(word) if p.max_token_len is None else min(p.max_token_len, len(word))
        out = [word[:n] for n in range(first, last + 1) if n < len(word)]
        # Qdrant emits the whole word once the prefixes reach its length, and stops
        # (processing already dropped words shorter than min_token_len).
        if p.max_token_len is None or len(word) <= p.max_token_len:
            out.append(word)
        return out

    def document_tokens(self, text: str) -> list[str]:
        """The tokens of a document (Qdrant's ``tokenize_doc``), in text order.

        Args:
            text: the document.

        Returns:
            The tokens, repeats kept.
        """
        raws = self._split(text)
        if self.params.tokenizer != "prefix":
            out = []
            for raw in raws:
                tok = self._cached(raw)
                if tok is not None:
                    out.append(tok)
            return out
        grams: list[str] = []
        for raw in raws:
            word = self._process(raw, False)
            if word is not None:
                grams.extend(self._prefixes(word))
        return grams

    def query_tokens(self, text: str) -> list[str]:
        """The tokens of a query (Qdrant's ``tokenize_query``), in text order.

        Args:
            text: the query.

        Returns:
            The tokens, repeats kept.
        """
        if self.params.tokenizer != "prefix":
            return [t for t in self.document_tokens(text) if t != ARRAY_BOUNDARY]
        p = self.params
        out = []
        for word in self._split(text):
            if p.lowercase:
                word = word.lower()
            if self._stem is not None:
                word = self._stem(word)
            if p.min_token_len is not None and len(word) < p.min_token_len:
                continue
            out.append(word if p.max_token_len is None else word[: p.max_token_len])
        return out
