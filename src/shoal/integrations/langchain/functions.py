"""langchain-milvus's ``BM25BuiltInFunction`` on Shoal: the store's sparse BM25 fields.

Milvus runs BM25 inside the server: the text field feeds a function whose output is a
sparse vector field. Shoal does the same with Qdrant's inference: a document's text is
written to the field as ``Document(text, model="qdrant/bm25")`` and embedded by Shoal
(embedded or ``shoal serve``), and the field is a sparse vector with ``modifier="idf"``, so
its scores are BM25 with IDF over the collection.

Analyzers (``analyzer_params``), mapped onto the options of Qdrant's BM25:

- None, ``{"type": "standard"}``: Milvus's default analyzer (standard tokenizer,
  lowercase): words split at non-alphanumeric characters, lowercased, no stop words, no
  stemming.
- ``{"type": "english"}``: the same plus Milvus's English stop words (Lucene's 33
  ``_english_`` words) and the Snowball English stemmer.
- A custom analyzer ``{"tokenizer": "standard" | "whitespace", "filter": [...]}`` with
  filters ``"lowercase"``, ``{"type": "stop", "stop_words": [...]}`` (``"_english_"``
  names the list above), ``{"type": "stemmer", "language": ...}`` and
  ``{"type": "length", "max": n}``.

What differs: Milvus's ``standard`` tokenizer follows Unicode word segmentation
(UAX #29) and keeps, e.g., ``3.14`` or ``U.S.A`` as one token; Shoal's splits at every
non-alphanumeric character. Other analyzers, tokenizers and filters (``chinese``, ``jieba``,
``icu``, ``asciifolding``, ...), ``multi_analyzer_params``, and the Text Embedding
function are refused with ``NotSupported`` naming them.

``enable_match=True`` is accepted: ``text_match(text, '...')`` works in any ``expr`` of a
Shoal store (with the default tokenizer of :mod:`shoal.filters.text`), enabled or not.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal import models as m
from shoal.errors import InvalidConfig, NotSupported

BM25_MODEL = "qdrant/bm25"

#: Lucene's English stop words, Milvus's ``_english_`` list.
_ENGLISH = (
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with"
)
ENGLISH_STOP_WORDS: tuple[str, ...] = tuple(_ENGLISH.split())

_TOKENIZERS = {"standard": "word", "whitespace": "whitespace"}


class BM25BuiltInFunction:
    """Shoal's twin of langchain-milvus's ``BM25BuiltInFunction`` (same arguments).

    Either class may be given as a store's ``builtin_function``; this one needs no
    langchain-milvus or pymilvus.

    Args:
        input_field_names: the text field it reads ("text"; must be the store's
            ``text_field``).
        output_field_names: the sparse vector field it writes ("sparse").
        analyzer_params: Milvus analyzer settings (see this module's docstring).
        multi_analyzer_params: not supported (refused when a store is made with it).
        enable_match: accepted (``text_match`` always works in Shoal's expressions).
        function_name: accepted for compatibility.

    Raises:
        ValueError: both analyzer forms given (as langchain-milvus).
    """

    def __init__(
        self,
        *,
        input_field_names: str = "text",
        output_field_names: str = "sparse",
        analyzer_params: dict[Any, Any] | None = None,
        multi_analyzer_params: dict[Any, Any] | None = None,
        enable_match: bool = False,
        function_name: str | None = None,
    ) -> None:
        if analyzer_params is not None and multi_analyzer_params is not None:
            raise ValueError("analyzer_params and multi_analyzer_params cannot both be set")
        self.input_field_names = input_field_names
        self.output_field_names = output_field_names
        self.analyzer_params = analyzer_params
        self.multi_analyzer_params = multi_analyzer_params
        self.enable_match = enable_match
        self.function_name = function_name or "bm25_function"


@dataclass(frozen=True)
class SparseField:
    """A BM25 sparse vector field of the store.

    Attributes:
        name: the sparse vector's name.
        options: the options of its ``qdrant/bm25`` documents.
    """

    name: str
    options: Mapping[str, Any]

    def document(self, text: str) -> m.Document:
        """The text as this field embeds it (for a point or a query)."""
        return m.Document(text=text, model=BM25_MODEL, options=dict(self.options))


def _milvus_bm25_class() -> type | None:
    # Only if the caller imported langchain-milvus: a BM25BuiltInFunction of theirs means
    # its module is loaded, and Shoal need not import pymilvus to recognise it.
    module = sys.modules.get("langchain_milvus.function")
    found = getattr(module, "BM25BuiltInFunction", None)
    return found if isinstance(found, type) else None


def _is_bm25(function: Any) -> bool:
    if isinstance(function, BM25BuiltInFunction):
        return True
    milvus = _milvus_bm25_class()
    return milvus is not None and isinstance(function, milvus)


def _one_name(value: Any, what: str) -> str:
    names = [value] if isinstance(value, str) else list(value or [])
    if len(names) != 1 or not isinstance(names[0], str) or not names[0]:
        raise InvalidConfig(f"BM25BuiltInFunction {what} must be one field name, got {value!r}")
    return str(names[0])


def sparse_fields(builtin_function: Any, text_field: str) -> list[SparseField]:
    """The sparse fields of a store's ``builtin_function`` argument.

    Args:
        builtin_function: None, a BM25 function (Shoal's or langchain-milvus's), or a list.
        text_field: the store's text field (the only input a function may read).

    Returns:
        One field per function, in order.

    Raises:
        InvalidConfig: a function that is not a BM25 function, or reads another field.
        NotSupported: another Milvus function (Text Embedding), ``multi_analyzer_params``,
            or an analyzer Shoal cannot reproduce (named).
    """
    functions = [] if builtin_function is None else builtin_function
    if not isinstance(functions, (list, tuple)):
        functions = [functions]
    fields: list[SparseField] = []
    for function in functions:
        if not _is_bm25(function):
            kind = type(function).__name__
            if kind.endswith("BuiltInFunction"):
                raise NotSupported(f"builtin_function {kind} is not supported: only BM25")
            raise InvalidConfig(
                f"builtin_function must be a BM25BuiltInFunction (Shoal's or "
                f"langchain-milvus's), got {kind}"
            )
        source = _one_name(function.input_field_names, "input_field_names")
        if source != text_field:
            raise InvalidConfig(
                f"BM25BuiltInFunction reads {source!r}, but the documents' text is "
                f"text_field={text_field!r}"
            )
        if getattr(function, "multi_analyzer_params", None) is not None:
            raise NotSupported("BM25BuiltInFunction multi_analyzer_params is not supported")
        name = _one_name(function.output_field_names, "output_field_names")
        fields.append(SparseField(name, bm25_options(function.analyzer_params)))
    return fields


def bm25_options(analyzer_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``qdrant/bm25`` options that analyse text as a Milvus analyzer does.

    Args:
        analyzer_params: Milvus ``analyzer_params`` (None: Milvus's default analyzer).

    Returns:
        Options for ``Document(model="qdrant/bm25", options=...)``.

    Raises:
        InvalidConfig: not a dict, or a malformed filter.
        NotSupported: an analyzer type, tokenizer or filter Shoal cannot reproduce.
    """
    params = dict(analyzer_params or {"type": "standard"})
    kind = params.pop("type", None)
    if kind is not None:
        if params:
            raise NotSupported(
                f"analyzer_params {sorted(params)} beside type={kind!r} are not supported"
            )
        if kind == "standard":
            return _options("standard", ["lowercase"])
        if kind == "english":
            stop = {"type": "stop", "stop_words": ["_english_"]}
            stem = {"type": "stemmer", "language": "english"}
            return _options("standard", ["lowercase", stop, stem])
        raise NotSupported(f"analyzer_params type={kind!r} is not supported")
    unknown = sorted(set(params) - {"tokenizer", "filter"})
    if unknown:
        raise NotSupported(f"analyzer_params {unknown} are not supported")
    filters = params.get("filter") or []
    if not isinstance(filters, list):
        raise InvalidConfig(f"analyzer_params filter must be a list, got {filters!r}")
    return _options(params.get("tokenizer", "standard"), filters)


def _options(tokenizer: Any, filters: Sequence[Any]) -> dict[str, Any]:
    if not isinstance(tokenizer, str) or tokenizer not in _TOKENIZERS:
        raise NotSupported(f"analyzer_params tokenizer={tokenizer!r} is not supported")
    options: dict[str, Any] = {
        "tokenizer": _TOKENIZERS[tokenizer],
        "lowercase": False,
        "stopwords": {"custom": []},
        "stemmer": {"type": "none"},
    }
    for item in filters:
        kind = item.get("type") if isinstance(item, Mapping) else item
        if kind == "lowercase":
            options["lowercase"] = True
        elif kind == "stop" and isinstance(item, Mapping):
            words = item.get("stop_words") or []
            expanded = [w for word in words for w in _stop_words(word)]
            options["stopwords"] = {"custom": expanded}
        elif kind == "stemmer" and isinstance(item, Mapping):
            options["stemmer"] = {"type": "snowball", "language": item.get("language")}
        elif kind == "length" and isinstance(item, Mapping):
            options["max_token_len"] = item.get("max")
        else:
            raise NotSupported(f"analyzer_params filter {item!r} is not supported")
    return options


def _stop_words(word: Any) -> list[str]:
    if not isinstance(word, str):
        raise InvalidConfig(f"analyzer_params stop_words must be strings, got {word!r}")
    if word == "_english_":
        return list(ENGLISH_STOP_WORDS)
    if word.startswith("_") and word.endswith("_"):
        raise NotSupported(f"analyzer_params stop word list {word!r} is not supported")
    return [word]
