"""Language names, stop word lists and stemmers, spelled and resolved as Qdrant does.

Qdrant names a language by its lowercase English name or an ISO code (``"english"``,
``"en"``), case-sensitively. Two lists exist: languages with a stop word list and languages
with a Snowball stemmer; a name can be in one, both or neither. Shoal ships the English stop
word list only and the stemmers of ``py_rust_stemmers`` (the bindings of the Rust crate
Qdrant stems with); a language Qdrant knows but Shoal cannot reproduce is refused with
``NotSupported``, never replaced by something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

from shoal.errors import InvalidConfig, NotSupported
from shoal.text.analysis import TokenizerType

# Qdrant's `Language` enum (stop word lists): name -> ISO alias.
STOPWORD_LANGUAGES: dict[str, str] = {
    "arabic": "ar",
    "azerbaijani": "az",
    "basque": "eu",
    "bengali": "bn",
    "catalan": "ca",
    "chinese": "zh",
    "danish": "da",
    "dutch": "nl",
    "english": "en",
    "finnish": "fi",
    "french": "fr",
    "german": "de",
    "greek": "el",
    "hebrew": "he",
    "hinglish": "hi-en",
    "hungarian": "hu",
    "indonesian": "id",
    "italian": "it",
    "japanese": "jp",
    "kazakh": "kk",
    "nepali": "ne",
    "norwegian": "no",
    "portuguese": "pt",
    "romanian": "ro",
    "russian": "ru",
    "slovene": "sl",
    "spanish": "es",
    "swedish": "sv",
    "tajik": "tg",
    "turkish": "tr",
}
# Qdrant's `SnowballLanguage` enum (stemmers): name -> ISO alias.
SNOWBALL_LANGUAGES: dict[str, str] = {
    **{
        name: STOPWORD_LANGUAGES[name]
        for name in [
            "arabic",
            "danish",
            "dutch",
            "english",
            "finnish",
            "french",
            "german",
            "greek",
            "hungarian",
            "italian",
            "norwegian",
            "portuguese",
            "romanian",
            "russian",
            "spanish",
            "swedish",
            "turkish",
        ]
    },
    "armenian": "hy",
    "tamil": "ta",
}
# Stop word lists shipped with Shoal (files beside this module).
SHIPPED_STOPWORDS = {"english": "english_stopwords.txt"}
# py_rust_stemmers has every Snowball language Qdrant has except Armenian (Qdrant's fork of
# rust-stemmers added it).
UNSUPPORTED_STEMMERS = frozenset({"armenian"})


def _resolve(name: object, table: Mapping[str, str]) -> str | None:
    if not isinstance(name, str):
        return None
    if name in table:
        return name
    for full, alias in table.items():
        if name == alias:
            return full
    return None


def stopword_language(name: object) -> str | None:
    """The canonical name of a stop word language (``"en"`` -> ``"english"``), or None if
    Qdrant has no stop word list by that name."""
    return _resolve(name, STOPWORD_LANGUAGES)


def snowball_language(name: object) -> str | None:
    """The canonical name of a Snowball stemmer language, or None if Qdrant has none by
    that name."""
    return _resolve(name, SNOWBALL_LANGUAGES)


@cache
def stopwords_of(language: str) -> frozenset[str]:
    """Qdrant's stop word list for a language.

    Args:
        language: a canonical stop word language name.

    Returns:
        The words, as Qdrant lists them (not lowercased).

    Raises:
        NotSupported: Shoal does not ship this language's list.
    """
    filename = SHIPPED_STOPWORDS.get(language)
    if filename is None:
        shipped = ", ".join(sorted(SHIPPED_STOPWORDS))
        raise NotSupported(
            f"stop words for {language!r} are not supported: Shoal ships the lists of {shipped}"
        )
    text = Path(__file__).with_name(filename).read_text(encoding="utf-8")
    return frozenset(text.splitlines())


def _language_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidConfig(f"{where} must be a list of language names, got {value!r}")
    out = []
    for item in value:
        lang = stopword_language(item)
        if lang is None:
            raise InvalidConfig(f"{where}: unknown stop word language {item!r}")
        out.append(lang)
    return out


def parse_stopwords(value: Any, lowercase: bool) -> frozenset[str]:
    """Resolve Qdrant's ``stopwords`` setting: a language name, or
    ``{"languages": [...], "custom": [...]}``.

    Args:
        value: the setting's JSON value (None: no stop words).
        lowercase: whether the analyzer lowercases; Qdrant then lowercases the stop words.

    Returns:
        The stop words, compared with tokens after lowercasing, before stemming.

    Raises:
        InvalidConfig: the value has another shape or names an unknown language.
        NotSupported: a language whose list Shoal does not ship.
    """
    if value is None:
        return frozenset()
    words: set[str] = set()
    if isinstance(value, str):
        lang = stopword_language(value)
        if lang is None:
            raise InvalidConfig(f"stopwords: unknown language {value!r}")
        words.update(stopwords_of(lang))
    elif isinstance(value, dict):
        unknown = set(value) - {"languages", "custom"}
        if unknown:
            raise InvalidConfig(f"stopwords: unknown fields {sorted(unknown)}")
        if value.get("languages") is not None:
            for lang in _language_list(value["languages"], "stopwords.languages"):
                words.update(stopwords_of(lang))
        custom = value.get("custom")
        if custom is not None:
            if not isinstance(custom, list) or not all(isinstance(w, str) for w in custom):
                raise InvalidConfig(f"stopwords.custom must be a list of strings, got {custom!r}")
            words.update(custom)
    else:
        raise InvalidConfig(
            f'stopwords must be a language name or {{"languages": [...], "custom": [...]}}, '
            f"got {value!r}"
        )
    return frozenset(w.lower() for w in words) if lowercase else frozenset(words)


def check_stemmer_language(language: str) -> str:
    """``language`` (canonical Snowball name) if Shoal can stem it.

    Raises:
        NotSupported: Qdrant stems this language but Shoal cannot.
    """
    if language in UNSUPPORTED_STEMMERS:
        raise NotSupported(f"the Snowball stemmer for {language!r} is not supported")
    return language


def parse_stemmer(value: Any) -> str | None:
    """Resolve Qdrant's ``stemmer`` setting: ``{"type": "snowball", "language": ...}`` or
    ``{"type": "none"}``.

    Returns:
        The canonical Snowball language, or None for no stemming.

    Raises:
        InvalidConfig: another shape, type or an unknown language.
        NotSupported: a language Qdrant stems and Shoal cannot.
    """
    if not isinstance(value, dict):
        raise InvalidConfig(
            f'stemmer must be {{"type": "snowball", "language": ...}} or {{"type": "none"}}, '
            f"got {value!r}"
        )
    kind = value.get("type")
    if kind == "none" and set(value) == {"type"}:
        return None
    if kind == "snowball" and set(value) == {"type", "language"}:
        lang = snowball_language(value["language"])
        if lang is None:
            raise InvalidConfig(f"stemmer: unknown Snowball language {value['language']!r}")
        return check_stemmer_language(lang)
    raise InvalidConfig(
        f'stemmer must be {{"type": "snowball", "language": ...}} or {{"type": "none"}}, '
        f"got {value!r}"
    )


def flag_setting(settings: Mapping[str, Any], name: str, default: bool, what: str) -> bool:
    """A bool setting (null or absent: ``default``).

    Raises:
        InvalidConfig: the value is not a bool (the message starts with ``what``).
    """
    value = settings.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidConfig(f"{what} {name} must be a bool, got {value!r}")
    return value


def length_setting(settings: Mapping[str, Any], name: str, what: str) -> int | None:
    """A token length setting: an integer >= 0, or None.

    Raises:
        InvalidConfig: another value (the message starts with ``what``).
    """
    value = settings.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidConfig(f"{what} {name} must be an integer >= 0, got {value!r}")
    return value


_TOKENIZERS = ("word", "whitespace", "prefix")


def tokenizer_setting(settings: Mapping[str, Any], what: str) -> TokenizerType:
    """The ``tokenizer`` setting (null or absent: ``word``).

    Raises:
        InvalidConfig: not one of Qdrant's tokenizers.
        NotSupported: ``multilingual`` (charabia's segmentation is not reproduced).
    """
    tokenizer = settings.get("tokenizer") or "word"
    if tokenizer == "multilingual":
        raise NotSupported(f"{what} tokenizer='multilingual' is not supported")
    if tokenizer not in _TOKENIZERS:
        raise InvalidConfig(
            f"{what} tokenizer must be one of {[*_TOKENIZERS, 'multilingual']}, got {tokenizer!r}"
        )
    return cast(TokenizerType, tokenizer)
