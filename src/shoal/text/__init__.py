"""Qdrant's text analysis: tokenizers, lowercasing, stop words and Snowball stemming.

One pipeline serves full-text payload matching (``shoal.filters.text``) and the BM25
encoder (``shoal.embeddings.bm25``), as one pipeline serves both in Qdrant.
"""

from __future__ import annotations

from shoal.text.analysis import Analyzer, AnalyzerParams, TokenizerType
from shoal.text.languages import (
    parse_stemmer,
    parse_stopwords,
    snowball_language,
    stopword_language,
    stopwords_of,
)

__all__ = [
    "Analyzer",
    "AnalyzerParams",
    "TokenizerType",
    "parse_stemmer",
    "parse_stopwords",
    "snowball_language",
    "stopword_language",
    "stopwords_of",
]
