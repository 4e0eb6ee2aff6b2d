"""Text embeddings that run offline: :class:`MiniLM` (dense, the default) and :class:`BM25`
(sparse, Qdrant's ``qdrant/bm25``)."""

from __future__ import annotations

from shoal.embeddings.bm25 import BM25, Bm25Config, is_bm25_model
from shoal.embeddings.minilm import MiniLM

__all__ = ["BM25", "Bm25Config", "MiniLM", "is_bm25_model"]
