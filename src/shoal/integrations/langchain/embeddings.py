"""Shoal's offline MiniLM model as a LangChain ``Embeddings``.

``shoal.embeddings`` must not import LangChain (it is an optional extra), so the model
class is not an ``Embeddings`` subclass; this thin adapter is.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from shoal.embeddings import MiniLM


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions, unit vectors), offline and CPU only.

    The default embedding of :class:`~shoal.integrations.langchain.ShoalVectorStore`. The
    model loads on first use. The async methods run the model on a worker thread (it is
    CPU-bound work, not I/O), so the event loop stays free.

    Args:
        model: a ``MiniLM`` instance to share; a new one by default.
    """

    # Documents and queries embed identically (no prefixes), so concurrent queries may be
    # batched with documents (see shoal.integrations.langchain.coalesce).
    query_equals_document = True

    def __init__(self, model: MiniLM | None = None) -> None:
        self.model = model if model is not None else MiniLM()

    @property
    def dimension(self) -> int:
        """Length of every vector (384)."""
        return self.model.dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents.

        Args:
            texts: the documents.

        Returns:
            One unit vector per document.

        Raises:
            EmbeddingError: the model cannot be loaded or run.
        """
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed a query (the same way as a document: this model needs no prefix).

        Args:
            text: the query.

        Returns:
            A unit vector.

        Raises:
            EmbeddingError: the model cannot be loaded or run.
        """
        return self.model.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents without blocking the event loop.

        Args:
            texts: the documents.

        Returns:
            One unit vector per document.

        Raises:
            EmbeddingError: the model cannot be loaded or run.
        """
        return await self.model.aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a query without blocking the event loop.

        Args:
            text: the query.

        Returns:
            A unit vector.

        Raises:
            EmbeddingError: the model cannot be loaded or run.
        """
        return await self.model.aembed_query(text)
