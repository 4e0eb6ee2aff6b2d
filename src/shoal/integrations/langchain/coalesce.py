"""The store's embedders: ``AsyncEmbedder`` coalesces the embedding calls of concurrent
``aadd_documents([doc])`` callers; ``Embedder``, its sync twin, calls the embedding directly.

A hosted embedding API costs a round trip per call, whatever the batch size. When many
coroutines of one event loop embed at once, their texts are gathered into a few
``aembed_documents`` calls of many texts (at most ``max_texts`` each) and the vectors handed
back to each caller. There is no waiting window: the first caller starts a drain task that
runs after one loop tick, and callers that arrive while a call is in flight join the next.

Queries join the same batches only when the embedding gives documents and queries the same
vectors — declared by a ``query_equals_document = True`` attribute (the built-in MiniLM
does) — otherwise each query is embedded with ``aembed_query``, concurrently.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

import numpy as np
from langchain_core.embeddings import Embeddings

from shoal import models as m

DEFAULT_MAX_TEXTS = 256
# One caller's texts and the future its vectors are delivered to.
_Waiting = tuple[list[str], "asyncio.Future[list[list[float]]]"]


@dataclass
class _Queue:
    pending: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def as_array(vector: list[float] | np.ndarray) -> list[float] | np.ndarray:
    """An async search's query vector as a numpy array, for the time it waits in a batch:
    the collector walks every float of every list in flight (100 waiting searches held
    ~200 lists of 384 floats, the embedding's and pydantic's copy), never an array's.
    A sync search does not wait, and keeps the list (cheaper there).
    """
    if isinstance(vector, np.ndarray):
        return vector  # some embeddings give arrays: the client checks and copies them
    try:
        row: np.ndarray = m.float_rows([vector], len(vector))[0]
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
        self.max_texts = max_texts
        self.symmetric = bool(getattr(embedding, "query_equals_document", False))
        self.calls = 0  # aembed_documents calls made (observed by the coalescing tests)
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )

    async def documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` together with those of concurrent callers.

        Raises:
            Whatever the embedding raised for these texts; other callers are unaffected.
        """
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[list[list[float]]] = loop.create_future()
        queue.pending.append((list(texts), future))
        if queue.task is None:
            queue.task = loop.create_task(self._drain(queue))
        return await future

    async def query(self, text: str) -> list[float] | np.ndarray:
        """Embed a query: batched with documents when that gives the same vector.

        Returns:
            The vector as a numpy array when its items are real numbers, else as the
            embedding gave it (the client's validation then names the bad value).
        """
        if self.symmetric:
            vector = (await self.documents([text]))[0]
        else:
            vector = await self.embedding.aembed_query(text)
        return as_array(vector)

    async def _drain(self, queue: _Queue) -> None:
        try:
            while queue.pending:
                take, total = 0, 0
                while take < len(queue.pending) and (
                    take == 0 or total + len(queue.pending[take][0]) <= self.max_texts
                ):
                    total += len(queue.pending[take][0])
                    take += 1
                batch, queue.pending = queue.pending[:take], queue.pending[take:]
                await self._embed(batch)
        finally:
            queue.task = None

    async def _embed(
        self, batch: list[tuple[list[str], asyncio.Future[list[list[float]]]]]
    ) -> None:
        texts = [t for chunk, _ in batch for t in chunk]
        try:
            self.calls += 1
            vectors = await self.embedding.aembed_documents(texts)
            if len(vectors) != len(texts):
                raise ValueError(
                    f"the embedding returned {len(vectors)} vectors for {len(texts)} texts"
                )
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            # Whose texts failed is unknown: embed each caller alone, so only it fails.
            await asyncio.gather(*(self._embed([item]) for item in batch))
            return
        start = 0
        for chunk, future in batch:
            if not future.done():
                future.set_result(vectors[start : start + len(chunk)])
            start += len(chunk)
