"""Text embeddings that run offline; :class:`MiniLM` is the default."""

from __future__ import annotations

from shoal.embeddings.minilm import MiniLM

__all__ = ["MiniLM"]
