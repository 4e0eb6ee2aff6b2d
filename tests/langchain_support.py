"""Helpers of the LangChain tests: a deterministic hash embedding.

(A uniquely named module: test folders have no __init__.py, so a shared name would clash.)
"""

from __future__ import annotations

import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings

DIM = 384


def hash_vector(text: str, dim: int = DIM) -> list[float]:
    """A unit vector that depends only on the text: a bag of hashed words, plus noise.

    Texts sharing words get similar vectors, so searches have meaningful neighbours.
    """
    vec = np.zeros(dim, dtype=np.float64)
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        seed = int.from_bytes(digest[:8], "little")
        vec += np.random.default_rng(seed).standard_normal(dim)
    if not vec.any():
        vec[0] = 1.0
    result: list[float] = (vec / np.linalg.norm(vec)).tolist()
    return result


class HashEmbeddings(Embeddings):
    """Deterministic 384-dimension embeddings at zero cost (no model, no network)."""

    def __init__(self, dim: int = DIM) -> None:
        self.dim = dim
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [hash_vector(t, self.dim) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return hash_vector(text, self.dim)

    # Native async: the work is trivial, so no thread hop.
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def unit(*xs: float) -> list[float]:
    """``xs`` scaled to length 1."""
    v = np.asarray(xs, dtype=np.float64)
    result: list[float] = (v / np.linalg.norm(v)).tolist()
    return result


#: Four unit vectors in 3 dimensions, named by direction.
VECTORS = {"x": unit(1, 0, 0), "xy": unit(1, 1, 0), "y": unit(0, 1, 0), "neg": unit(-1, 0.2, 0)}


class FixedQuery(HashEmbeddings):
    """Embeds every query as ``q`` (documents as usual)."""

    def __init__(self, q: list[float]) -> None:
        super().__init__(dim=len(q))
        self.q = q

    def embed_query(self, text: str) -> list[float]:
        return self.q
