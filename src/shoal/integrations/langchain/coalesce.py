"""The store's embedders: ``AsyncEmbedder`` coalesces the embedding calls of concurrent
``aadd_documents([doc])`` callers; ``Embedder``, its sync twin, calls the embedding directly.

A hosted embedding API costs a round trip per call, whatever the batch size. When many
coroutines of one event loop embed at once, their texts are gathered into a few
``aembed_documents`` calls of many texts (at most ``max_texts`` each) and the vectors handed
back to each caller: an ``AsyncBatcher`` (``shoal.concurrency``) whose requests are the
callers' lists of texts.

Queries join the same batches only when the embedding gives documents and queries the same
vectors — declared by a ``query_equals_document = True`` attribute (the built-in MiniLM
does) — otherwise each query is embedded with ``aembed_query``, concurrently.

An embedding with no async methods of its own (LangChain's defaults run the sync ones on
the event loop's default thread pool) is run on Shoal's embedding threads instead
(``shoal.concurrency.embedding_executor``), so a slow model never holds the threads engine
calls wait for.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings

from shoal.codec import float_rows
from shoal.concurrency import AsyncBatcher, embedding_executor, run_in_thread

A = TypeVar("A")
T = TypeVar("T")
DEFAULT_MAX_TEXTS = 256
Vectors = list[list[float]]


def as_array(vector: list[float] | np.ndarray) -> list[float] | np.ndarray:
    """An async search's query vector as a numpy array, for the time it waits in a batch:
    the collector walks every float of every list in flight (100 waiting searches held
    ~200 lists of 384 floats, the embedding's and pydantic's copy), never an array's.
    A sync search does not wait, and keeps the list (cheaper there).
    """
    if isinstance(vector, np.ndarray):
        return vector  # some embeddings give arrays: the client checks and copies them
    try:
        row: np.ndarray = float_rows([vector], len(vector))[0]
        return row
    except TypeError:
        return vector


class Embedder:
    """Embeds for the store's sync methods: straight calls of the LangChain embedding.

    Args:
        embedding: the store's LangChain embedding.
    """

    def __init__(self, embedding: Embeddings) -> None:
        self.embedding = embedding

    def documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` (``embed_documents``)."""
        return self.embedding.embed_documents(texts)

    def query(self, text: str) -> list[float]:
        """Embed a query (``embed_query``); the vector is kept as a list (see ``as_array``)."""
        return self.embedding.embed_query(text)


class AsyncEmbedder:
    """Batches concurrent document embeddings of one store.

    Args:
        embedding: the store's LangChain embedding.
        max_texts: the most texts sent in one ``aembed_documents`` call.
    """

    def __init__(self, embedding: Embeddings, max_texts: int = DEFAULT_MAX_TEXTS) -> None:
        self.embedding = embedding
        self.symmetric = bool(getattr(embedding, "query_equals_document", False))
        self.calls = 0  # aembed_documents calls made (observed by the coalescing tests)
        self._batcher: AsyncBatcher[list[str], Vectors] = AsyncBatcher(
            self._embed_many, max_batch=max_texts, size=len
        )
        own = type(embedding)
        self._embed_documents: Callable[[list[str]], Awaitable[Vectors]] = _native_or_threaded(
            own.aembed_documents is not Embeddings.aembed_documents,
            embedding.aembed_documents,
            embedding.embed_documents,
        )
        self._embed_query: Callable[[str], Awaitable[list[float]]] = _native_or_threaded(
            own.aembed_query is not Embeddings.aembed_query,
            embedding.aembed_query,
            embedding.embed_query,
        )

    @property
    def max_texts(self) -> int:
        """The most texts sent in one ``aembed_documents`` call."""
        return self._batcher.max_batch or DEFAULT_MAX_TEXTS

    @max_texts.setter
    def max_texts(self, value: int) -> None:
        self._batcher.max_batch = value

    async def documents(self, texts: list[str]) -> Vectors:
        """Embed ``texts`` together with those of concurrent callers.

        Raises:
            Whatever the embedding raised for these texts; other callers are unaffected.
        """
        if not texts:
            return []
        return await self._batcher.submit(list(texts))

    async def query(self, text: str) -> list[float] | np.ndarray:
        """Embed a query: batched with documents when that gives the same vector.

        Returns:
            The vector as a numpy array when its items are real numbers, else as the
            embedding gave it (the client's validation then names the bad value).
        """
        if self.symmetric:
            vector = (await self.documents([text]))[0]
        else:
            vector = await self._embed_query(text)
        return as_array(vector)

    async def _embed_many(self, callers: list[list[str]]) -> list[Vectors | BaseException]:
        """One ``aembed_documents`` call for the texts of several callers; if it fails,
        each caller's texts alone (whose texts failed is unknown), so only it fails."""
        texts = [t for chunk in callers for t in chunk]
        try:
            self.calls += 1
            vectors = await self._embed_documents(texts)
            if len(vectors) != len(texts):
                raise ValueError(
                    f"the embedding returned {len(vectors)} vectors for {len(texts)} texts"
                )
        except Exception as exc:
            if len(callers) == 1:
                return [exc]
            alone = await asyncio.gather(*(self._embed_many([chunk]) for chunk in callers))
            return [outcome[0] for outcome in alone]
        out: list[Vectors | BaseException] = []
        start = 0
        for chunk in callers:
            out.append(vectors[start : start + len(chunk)])
            start += len(chunk)
        return out


def _native_or_threaded(
    overridden: bool, native: Callable[[A], Awaitable[T]], sync: Callable[[A], T]
) -> Callable[[A], Awaitable[T]]:
    """The embedding's own async method when it has one (``overridden``), else its sync
    method on the embedding threads (LangChain's default would use the loop's default
    thread pool, where engine calls wait)."""
    if overridden:
        return native
    return functools.partial(_threaded, sync)


async def _threaded(fn: Callable[[A], T], arg: A) -> T:
    return await run_in_thread(fn, arg, executor=embedding_executor())
