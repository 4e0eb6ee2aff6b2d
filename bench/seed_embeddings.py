"""The two embeddings of the seed workload: a zero-cost hash embedding and a 60 ms one.

Both return the same vectors for the same text. Each counts its calls, so a run can report
how many embedding requests a store made (a store that coalesces concurrent adds or
searches makes fewer calls than it has callers).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

DIM = 384
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65_536)
def _hash_vector(text: str) -> tuple[float, ...]:
    # Feature hashing: each word token adds +1 or -1 (a second hash bit) to one bucket, so
    # texts sharing words point the same way; "test document 7" is closest to document 7.
    vec = np.zeros(DIM, dtype=np.float64)
    for token in _WORD.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        vec[digest % DIM] += 1.0 if (digest >> 40) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        vec[0], norm = 1.0, 1.0  # an empty text still gets a valid unit vector
    return tuple((vec / norm).tolist())


class HashEmbeddings(Embeddings):
    """Deterministic 384-dimension hash embedding, L2-normalised; costs (almost) nothing.

    Attributes:
        calls: embedding requests since the last :meth:`reset` (sync and async).
        texts: texts embedded since the last :meth:`reset`.
    """

    name = "hash"

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def reset(self) -> None:
        """Zero the call counters."""
        self.calls = 0
        self.texts = 0

    def _embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return [list(_hash_vector(t)) for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        return self._embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        return self._embed([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (no I/O, so no await)."""
        return self._embed(list(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        return self._embed([text])[0]


class LatencyEmbeddings(HashEmbeddings):
    """The hash vectors behind a fixed latency per call, like a hosted embedding API.

    The async methods wait with ``asyncio.sleep`` (concurrent calls overlap, as network
    requests would); the sync ones with ``time.sleep``.
    """

    def __init__(self, latency_s: float = 0.060) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.name = f"{round(latency_s * 1000)}ms"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, after ``latency_s``."""
        time.sleep(self.latency_s)
        return self._embed(list(texts))

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text, after ``latency_s``."""
        time.sleep(self.latency_s)
        return self._embed([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`: awaits ``latency_s``."""
        await asyncio.sleep(self.latency_s)
        return self._embed(list(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`: awaits ``latency_s``."""
        await asyncio.sleep(self.latency_s)
        return self._embed([text])[0]
