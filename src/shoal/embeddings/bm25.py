"""BM25 as sparse vectors, exactly as Qdrant encodes ``Document(text, model="qdrant/bm25")``.

Data encoded here moves to a Qdrant cluster unchanged, and vectors encoded here and by
Qdrant's server mix in one collection. What Qdrant's server does (``src/common/inference/``
``bm25_inference.rs`` and ``local_model.rs``, ``lib/bm25/src/lib.rs``, ``lib/api/src/``
``rest/schema.rs`` ``Bm25Config``), and so what this module does:

- Model names ``qdrant/bm25`` and ``bm25``, in any letter case. Options are Qdrant's
  ``Bm25Config``: ``k`` 1.2, ``b`` 0.75, ``avg_len`` 256, ``tokenizer`` ``word``,
  ``language`` ``english``, ``lowercase`` true, and by default the language's stop words and
  Snowball stemmer (``stopwords`` / ``stemmer`` override them; ``min_token_len``,
  ``max_token_len``). A language Qdrant does not recognise (the deprecated ``"none"``)
  means no stop words and no stemming, as there.
- Text becomes tokens with Qdrant's text analyzer (``shoal.text.analysis``): words split at
  non-alphanumeric characters, lowercased, English stop words (NLTK's list of 179, as
  Qdrant ships it) dropped, then stemmed with Snowball English as compiled in Rust's
  ``rust-stemmers`` (through ``py_rust_stemmers``, its Python bindings by Qdrant). The
  Snowball stemmers on PyPI (``snowballstemmer``, ``PyStemmer``) follow a newer edition of
  the algorithm that stems some common words differently (``added``, ``evening``).
- A token's index is its MurmurHash3 (x86, 32 bit, seed 0) of the UTF-8 bytes read as a
  signed integer, made non-negative with ``abs`` (``token_id``: ``unsigned_abs``).
- A document: per distinct token, ``tf = n (k + 1) / (k (1 - b + b |d| / avg_len) + n)``
  with ``n`` the token's count and ``|d|`` the document's token count, computed in 64-bit
  floats with Rust's fused multiply-add (``k.mul_add(..., n)``) and stored as a 32-bit
  float. A query: each distinct token with weight 1. IDF is applied by the collection's
  sparse vector ``modifier="idf"`` at search time, not here.
- An empty result (no tokens) is an empty sparse vector. Indices come sorted ascending and
  unique; values are floats a 32-bit float holds exactly.

Where fastembed's ``Bm25`` (qdrant-client's local inference) differs from the server, this
module follows the server: fastembed splits at ``[^\\w]`` (so ``_`` joins words and
Unicode marks split them), lowercases the whole text before splitting, drops tokens longer
than 40 characters, drops punctuation-only tokens, and computes ``tf`` without the fused
multiply-add (its last bit can differ).
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mmh3

from shoal import models as m
from shoal.concurrency import embedding_executor, run_in_thread
from shoal.embeddings.inputs import check_texts
from shoal.errors import InvalidConfig, NotSupported
from shoal.text import Analyzer, AnalyzerParams, parse_stemmer, parse_stopwords
from shoal.text.languages import (
    check_stemmer_language,
    flag_setting,
    length_setting,
    snowball_language,
    stopword_language,
    stopwords_of,
    tokenizer_setting,
)

#: Model names Qdrant's server encodes itself (compared in lowercase).
MODEL_NAMES = frozenset({"qdrant/bm25", "bm25"})
_OPTION_NAMES = frozenset(
    {
        "k",
        "b",
        "avg_len",
        "tokenizer",
        "language",
        "lowercase",
        "ascii_folding",
        "stopwords",
        "stemmer",
        "min_token_len",
        "max_token_len",
    }
)
_CACHE_LIMIT = 1 << 17
_WHAT = "BM25 option"
_F32 = struct.Struct("<f")


def is_bm25_model(name: str) -> bool:
    """Whether ``name`` is a model name Qdrant encodes as BM25 (``qdrant/bm25``, ``bm25``)."""
    return isinstance(name, str) and name.lower() in MODEL_NAMES


def token_id(token: str) -> int:
    """The sparse index of a token: ``abs`` of its signed 32-bit MurmurHash3 (seed 0)."""
    return abs(mmh3.hash(token, 0, True))


def _fma(x: float, y: float, z: float) -> float:
    # x * y + z rounded once, as Rust's f64::mul_add. Fractions are exact and Fraction ->
    # float rounds correctly; math.fma exists from Python 3.13 on.
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def _f32(value: float) -> float:
    result: float = _F32.unpack(_F32.pack(value))[0]
    return result


@dataclass(frozen=True)
class Bm25Config:
    """Qdrant's ``Bm25Config`` (the ``options`` of a BM25 ``Document``), validated.

    Attributes:
        k: term frequency saturation (>= 0).
        b: document length normalisation, in [0, 1].
        avg_len: expected average document length in tokens (> 0).
        analyzer: how text becomes tokens.
    """

    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0
    analyzer: AnalyzerParams = field(default_factory=lambda: _analyzer_params({}))

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> Bm25Config:
        """Read Qdrant's BM25 options (``Document.options``).

        Args:
            options: the options' JSON object; None or ``{}`` for the defaults.

        Returns:
            The configuration.

        Raises:
            InvalidConfig: an unknown option, a value of the wrong type or out of range.
            NotSupported: a setting Shoal cannot reproduce (``tokenizer`` ``multilingual``,
                ``ascii_folding`` true, stop words of a language other than English, the
                Armenian stemmer).
        """
        opts = dict(options or {})
        unknown = sorted(set(opts) - _OPTION_NAMES)
        if unknown:
            raise InvalidConfig(
                f"unknown BM25 options {unknown}: expected some of {sorted(_OPTION_NAMES)}"
            )
        k = _number(opts, "k", 1.2)
        b = _number(opts, "b", 0.75)
        avg_len = _number(opts, "avg_len", 256.0)
        if k < 0:
            raise InvalidConfig(f"BM25 k must be finite and >= 0, got {k}")
        if not 0.0 <= b <= 1.0:
            raise InvalidConfig(f"BM25 b must be finite and in [0.0, 1.0], got {b}")
        if avg_len <= 0:
            raise InvalidConfig(f"BM25 avg_len must be finite and > 0, got {avg_len}")
        return cls(k, b, avg_len, _analyzer_params(opts))


def _number(opts: Mapping[str, Any], name: str, default: float) -> float:
    value = opts.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidConfig(f"BM25 option {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidConfig(f"BM25 option {name} must be finite, got {value!r}")
    return float(value)


def _analyzer_params(opts: Mapping[str, Any]) -> AnalyzerParams:
    tokenizer = tokenizer_setting(opts, _WHAT)
    lowercase = flag_setting(opts, "lowercase", True, _WHAT)
    if flag_setting(opts, "ascii_folding", False, _WHAT):
        raise NotSupported("BM25 option ascii_folding=true is not supported")
    language = opts.get("language") or "english"
    if not isinstance(language, str):
        raise InvalidConfig(f"BM25 option language must be a string, got {language!r}")
    if opts.get("stemmer") is None:
        # Qdrant: the language's Snowball stemmer, if it has one.
        snowball = snowball_language(language)
        stemmer = None if snowball is None else check_stemmer_language(snowball)
    else:
        stemmer = parse_stemmer(opts["stemmer"])
    if opts.get("stopwords") is None:
        # Qdrant: the language's stop words, if it has a list.
        listed = stopword_language(language)
        words = frozenset() if listed is None else stopwords_of(listed)
        stopwords = frozenset(w.lower() for w in words) if lowercase else words
    else:
        stopwords = parse_stopwords(opts["stopwords"], lowercase)
    return AnalyzerParams(
        tokenizer=tokenizer,
        lowercase=lowercase,
        stopwords=stopwords,
        stemmer=stemmer,
        min_token_len=length_setting(opts, "min_token_len", _WHAT),
        max_token_len=length_setting(opts, "max_token_len", _WHAT),
    )


class BM25:
    """Offline BM25 encoder producing Qdrant's ``qdrant/bm25`` sparse vectors.

    Use the vectors with a sparse vector configured with ``modifier="idf"``: documents
    carry the BM25 term-frequency part, queries weight 1 per token, and the collection
    applies IDF at search time, so ``score = sum(idf(t) * tf(t, d))``.

    Args:
        model_name: ``"qdrant/bm25"`` (default) or ``"bm25"``, any letter case.
        options: Qdrant's BM25 options (``k``, ``b``, ``avg_len``, ``tokenizer``,
            ``language``, ``lowercase``, ``stopwords``, ``stemmer``, ``min_token_len``,
            ``max_token_len``), as in ``Document(options=...)``.

    Raises:
        NotSupported: another model name, or an option Shoal cannot reproduce.
        InvalidConfig: a malformed option.
    """

    def __init__(self, model_name: str = "qdrant/bm25", options: Mapping[str, Any] | None = None):
        if not is_bm25_model(model_name):
            raise NotSupported(
                f"inference model {model_name!r} is not supported: Shoal encodes "
                "'qdrant/bm25' (also spelled 'bm25') only"
            )
        self.model_name = model_name
        self.config = Bm25Config.from_options(options)
        self._analyzer = Analyzer(self.config.analyzer)
        self._ids: dict[str, int] = {}
        self._tf: dict[tuple[int, int], float] = {}

    def _id(self, token: str) -> int:
        found = self._ids.get(token)
        if found is None:
            found = token_id(token)
            if len(self._ids) >= _CACHE_LIMIT:
                self._ids.clear()
            self._ids[token] = found
        return found

    def _tf_value(self, count: int, doc_len: int) -> float:
        found = self._tf.get((count, doc_len))
        if found is None:
            c = self.config
            n = float(count)
            norm = 1.0 - c.b + c.b * float(doc_len) / c.avg_len
            found = _f32(n * (c.k + 1.0) / _fma(c.k, norm, n))
            if len(self._tf) >= _CACHE_LIMIT:
                self._tf.clear()
            self._tf[(count, doc_len)] = found
        return found

    def _document(self, text: str) -> m.SparseVector:
        tokens = self._analyzer.document_tokens(text)
        weights: dict[int, float] = {}
        for token, count in Counter(tokens).items():
            weights[self._id(token)] = self._tf_value(count, len(tokens))
        indices = sorted(weights)
        return _sparse(indices, [weights[i] for i in indices])

    def embed_documents(self, texts: Sequence[str]) -> list[m.SparseVector]:
        """Encode documents (what Qdrant stores for a point given as a BM25 ``Document``).

        Args:
            texts: the documents.

        Returns:
            One sparse vector per document.

        Raises:
            TypeError: ``texts`` is a single string or an item is not a str (names its index).
        """
        return [self._document(text) for text in check_texts(texts)]

    def embed_query(self, text: str) -> m.SparseVector:
        """Encode a search query (what Qdrant searches with for a BM25 ``Document``).

        Args:
            text: the query.

        Returns:
            The query's sparse vector: weight 1 per distinct token.

        Raises:
            TypeError: ``text`` is not a str.
        """
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}, expected str")
        indices = self.query_indices(text)
        return _sparse(indices, [1.0] * len(indices))

    def query_indices(self, text: str) -> list[int]:
        """The indices of ``text``'s query vector (each with the value 1): sorted, unique.
        The engine builds its query from them, without a ``SparseVector``."""
        return sorted({self._id(t) for t in self._analyzer.query_tokens(text)})

    async def aembed_documents(self, texts: Sequence[str]) -> list[m.SparseVector]:
        """Encode documents on the embedding threads, keeping the event loop free.

        Args:
            texts: the documents.

        Returns:
            The same as :meth:`embed_documents`.

        Raises:
            TypeError: ``texts`` is a single string or an item is not a str (names its index).
        """
        # Copied so a caller mutating its list while we await cannot change the input.
        return await run_in_thread(
            self.embed_documents, check_texts(texts), executor=embedding_executor()
        )

    async def aembed_query(self, text: str) -> m.SparseVector:
        """Encode a search query on the embedding threads, keeping the event loop free.

        Args:
            text: the query.

        Returns:
            The same as :meth:`embed_query`.

        Raises:
            TypeError: ``text`` is not a str.
        """
        return await run_in_thread(self.embed_query, text, executor=embedding_executor())


def _sparse(indices: list[int], values: list[float]) -> m.SparseVector:
    return m.assembled(m.SparseVector, {"indices": indices, "values": values})
