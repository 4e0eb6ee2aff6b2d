"""Offline, deterministic embeddings and a small corpus for the third-party store tests.

The stores (langchain-qdrant, llama-index, Haystack) normally embed with models that
download weights; these tests run offline, so they embed with a word hash (dense) and
Shoal's own BM25 (sparse). Texts sharing words get close dense vectors, and a rare
identifier held by one text is found by its sparse vector.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from shoal.embeddings import BM25

DIM = 32
_WORD = re.compile(r"\w+")
_BM25 = BM25()

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
    """A unit vector of ``DIM`` floats: each word adds +1 or -1 to one hashed bucket.

    Args:
        text: any text.

    Returns:
        The L2-normalised vector (a fixed unit vector for a text without words).
    """
    vec = np.zeros(DIM, dtype=np.float64)
    for token in _WORD.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        vec[digest % DIM] += 1.0 if (digest >> 40) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        vec[0], norm = 1.0, 1.0
    return (vec / norm).tolist()


def bm25_document(text: str) -> tuple[list[int], list[float]]:
    """Shoal's BM25 sparse vector of a document text, as (indices, values)."""
    sparse = _BM25.embed_documents([text])[0]
    return list(sparse.indices), list(sparse.values)


def bm25_query(text: str) -> tuple[list[int], list[float]]:
    """Shoal's BM25 sparse vector of a query text, as (indices, values)."""
    sparse = _BM25.embed_query(text)
    return list(sparse.indices), list(sparse.values)
