"""Offline, deterministic embeddings and a small corpus for the third-party store tests.

The stores (langchain-qdrant, llama-index, Haystack) normally embed with models that
download weights; these tests run offline, so they embed with a word hash (dense) and
Shoal's own BM25 (sparse). Texts sharing words get close dense vectors, and a rare
identifier held by one text is found by its sparse vector.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shoal.embeddings import BM25

# bench/ is no package: import its embedding as tests/bench does.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import seed_embeddings

# A LangChain Embeddings: the dense embedding of every test here.
HashEmbeddings = seed_embeddings.HashEmbeddings
DIM = seed_embeddings.DIM
_BM25 = BM25()
_HASH = HashEmbeddings()

# One text per topic; RARE is an identifier only the last text holds.
RARE = "zq7731x"
TEXTS = [
    "the river runs past the old stone mill",
    "a falcon circles above the granite summit",
    "copper wire carries the signal to the harbor",
    "the meadow is full of pollen in spring",
    "a lantern hangs by the harbor gate at night",
    "quantum ledger entries are audited each quarter",
    "the river and the meadow meet below the mill",
    f"error code {RARE} appears when the beacon fails",
]
TOPICS = ["water", "bird", "wire", "field", "light", "money", "water", "fault"]


def hash_vector(text: str) -> list[float]:
    """bench/seed_embeddings.py's word-hash embedding of ``text`` (``DIM`` floats, unit norm):
    each word adds +1 or -1 to one hashed bucket, so texts sharing words point alike."""
    return _HASH.embed_query(text)


def bm25_document(text: str) -> tuple[list[int], list[float]]:
    """Shoal's BM25 sparse vector of a document text, as (indices, values)."""
    sparse = _BM25.embed_documents([text])[0]
    return list(sparse.indices), list(sparse.values)


def bm25_query(text: str) -> tuple[list[int], list[float]]:
    """Shoal's BM25 sparse vector of a query text, as (indices, values)."""
    sparse = _BM25.embed_query(text)
    return list(sparse.indices), list(sparse.values)
