"""The stores of the seed benchmark, each behind one small interface (a "kit").

A kit opens a fresh collection per test (langchain-milvus's ``auto_id=True,
drop_old=True``), counts the live documents, and deletes by the metadata field ``id``,
the seed workload's "delete by expression". Milvus and Shoal take the expression itself
(``adelete(expr="id == 'doc_7'")``); every other store uses its closest native
equivalent, documented on its kit, through the store's async method where it has one.

Shoal is used exactly as a langchain-milvus user uses ``Milvus``: the same constructor
call, only the class (and the ``uri``) differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from seed_embeddings import DIM

READY_TIMEOUT_S = 60.0


class Unavailable(Exception):
    """The store cannot run here (a missing package or a server that did not start)."""


class Kit:
    """One store under test.

    Subclasses set ``name`` and implement the hooks; ``start`` / ``stop`` bracket the whole
    benchmark (a server process, a client, a folder), ``open`` / ``close`` one test.
    """

    name = ""
    # Keyword arguments of every search (a hybrid store's ranker).
    search_kwargs: dict[str, Any] = {}  # (replaced per kit, never mutated)

    def __init__(self) -> None:
        self.workdir = Path()
        self._seq = 0

    def start(self, workdir: Path) -> None:
        """Prepare the store (imports, folders, servers) under ``workdir``.

        Raises:
            Unavailable: the store cannot run here; the message says why.
        """
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        """Release what ``start`` made. Safe to call after a failed ``start``."""

    def collection_name(self) -> str:
        """A new collection name for the next test."""
        self._seq += 1
        return f"seed_{self._seq}"

    async def open(self, embedding: Embeddings) -> VectorStore:
        """A store on a fresh, empty collection."""
        raise NotImplementedError

    async def close(self, store: VectorStore) -> None:
        """Drop the test's collection and release the store."""

    def abandon(self) -> None:
        """Stop what a store that stopped answering left running in this process, where it
        can be stopped: the cells after it run beside whatever it still does."""

    async def settle(self, store: VectorStore) -> None:
        """Wait for background work a bulk load started (an index build), so the load's
        cost is counted in the load time, not in the searches timed after it. Stores that
        index during ``add`` (Chroma) or not at all (FAISS) have nothing to wait for."""

    def count(self, store: VectorStore) -> int:
        """Live documents in the store's collection."""
        raise NotImplementedError

    def delete_by_id(self, store: VectorStore, doc_id: str) -> None:
        """Delete the documents whose metadata ``id`` equals ``doc_id``."""
        raise NotImplementedError

    async def adelete_by_id(self, store: VectorStore, doc_id: str) -> None:
        """Async :meth:`delete_by_id`."""
        raise NotImplementedError


def _need(*modules: str) -> None:
    for module in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                __import__(module)
        except ImportError as exc:
            raise Unavailable(f"cannot import {module}: {exc}") from exc


# ------------------------------------------------------------ Milvus and Shoal


class MilvusStyleKit(Kit):
    """A langchain-milvus style store: ``Milvus`` on Milvus Lite, or ``ShoalVectorStore``.

    Delete by expression is the store's own ``adelete(expr="id == 'doc_7'")``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.uri = ""

    def store_class(self) -> type[VectorStore]:
        """The VectorStore class (the one line a switching user changes)."""
        raise NotImplementedError

    async def open(self, embedding: Embeddings) -> VectorStore:
        cls: Any = self.store_class()
        return cls(  # type: ignore[no-any-return]
            embedding_function=embedding,
            collection_name=self.collection_name(),
            connection_args={"uri": self.uri},
            auto_id=True,
            drop_old=True,
        )

    def delete_by_id(self, store: VectorStore, doc_id: str) -> None:
        store.delete(expr=f"id == '{doc_id}'")

    async def adelete_by_id(self, store: VectorStore, doc_id: str) -> None:
        await store.adelete(expr=f"id == '{doc_id}'")


class MilvusLiteKit(MilvusStyleKit):
    """langchain-milvus ``Milvus`` on Milvus Lite (a ``./milvus.db`` file URI)."""

    name = "milvus-lite"

    def start(self, workdir: Path) -> None:
        super().start(workdir)
        _need("langchain_milvus", "milvus_lite")
        self.uri = str(workdir / "milvus.db")

    def store_class(self) -> type[VectorStore]:
        from langchain_milvus import Milvus

        return Milvus

    async def close(self, store: VectorStore) -> None:
        s: Any = store
        s.client.drop_collection(s.collection_name)

    def abandon(self) -> None:
        # Milvus Lite 3 serves the file from gRPC threads inside this process.
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(self.uri)

    def count(self, store: VectorStore) -> int:
        s: Any = store
        if not s.client.has_collection(s.collection_name):
            return 0  # langchain-milvus creates the collection on the first insert
        rows = s.client.query(
            s.collection_name, filter="", output_fields=["count(*)"], consistency_level="Strong"
        )
        return int(rows[0]["count(*)"])


class ShoalKit(MilvusStyleKit):
    """``ShoalVectorStore`` embedded in this process, on a storage folder."""

    name = "shoal"

    def start(self, workdir: Path) -> None:
        super().start(workdir)
        _need("shoal.integrations.langchain")
        self.uri = str(workdir / "data")

    def store_class(self) -> type[VectorStore]:
        from shoal.integrations.langchain import ShoalVectorStore

        return ShoalVectorStore

    async def close(self, store: VectorStore) -> None:
        s: Any = store
        await s.adrop()
        await s.aclose()

    def count(self, store: VectorStore) -> int:
        s: Any = store
        if not s.client.collection_exists(s.collection_name):
            return 0
        return int(s.client.count(s.collection_name, exact=True).count)

    async def settle(self, store: VectorStore) -> None:
        # Shoal indexes in a background thread after the writes commit; a collection is
        # green once its HNSW index has caught up.
        s: Any = store
        from shoal import models as m

        while s.client.get_collection(s.collection_name).status != m.CollectionStatus.GREEN:
            await asyncio.sleep(0.05)


class ShoalHybridKit(ShoalKit):
    """``ShoalVectorStore`` in langchain-milvus's hybrid form: a dense field and a
    ``BM25BuiltInFunction`` field, searched with ``ranker_type`` rrf or weighted."""

    def __init__(self, ranker: str) -> None:
        super().__init__()
        self.name = f"shoal-hybrid-{ranker}"
        self.search_kwargs = {"ranker_type": ranker}

    async def open(self, embedding: Embeddings) -> VectorStore:
        from shoal.integrations.langchain import BM25BuiltInFunction, ShoalVectorStore

        return ShoalVectorStore(
            embedding_function=embedding,
            collection_name=self.collection_name(),
            connection_args={"uri": self.uri},
            auto_id=True,
            drop_old=True,
            builtin_function=BM25BuiltInFunction(output_field_names="sparse"),
            vector_field=["dense", "sparse"],
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ShoalServerKit(ShoalKit):
    """``ShoalVectorStore`` against ``shoal serve`` on a free 127.0.0.1 port (a subprocess)."""

    name = "shoal-server"

    def __init__(self) -> None:
        super().__init__()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self, workdir: Path) -> None:
        Kit.start(self, workdir)
        _need("shoal.integrations.langchain", "shoal.server", "httpx")
        port = _free_port()
        self.uri = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "shoal", "serve", "--path", str(workdir / "data")]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        self._log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                tail = (workdir / "server.log").read_text(errors="replace")[-800:]
                raise Unavailable(f"shoal serve exited with {self._proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.uri}/readyz", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise Unavailable(f"shoal serve not ready at {self.uri} after {READY_TIMEOUT_S}s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


# ----------------------------------------------------------------------- Qdrant


class QdrantKit(Kit):
    """langchain-qdrant ``QdrantVectorStore`` on qdrant-client's local mode.

    ``QdrantVectorStore`` needs the collection to exist, so each test creates it first
    (384 dimensions, cosine). Delete by expression: the store can delete only by point id,
    so this is the client's ``delete`` with a payload filter on ``metadata.id``, the way a
    Qdrant user deletes by a field. The store has no native async methods (LangChain runs
    its sync ones in a thread pool), so the async delete runs the client's delete the same
    way, with LangChain's ``run_in_executor``.
    """

    def __init__(self, on_disk: bool) -> None:
        super().__init__()
        self.on_disk = on_disk
        self.name = "qdrant-disk" if on_disk else "qdrant-memory"
        self.client: Any = None

    def start(self, workdir: Path) -> None:
        super().start(workdir)
        _need("langchain_qdrant", "qdrant_client")
        from qdrant_client import QdrantClient

        if self.on_disk:
            self.client = QdrantClient(path=str(workdir / "qdrant"))
        else:
            self.client = QdrantClient(":memory:")

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def open(self, embedding: Embeddings) -> VectorStore:
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import models

        name = self.collection_name()
        if self.client.collection_exists(name):
            self.client.delete_collection(name)
        self.client.create_collection(
            name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )
        return QdrantVectorStore(client=self.client, collection_name=name, embedding=embedding)

    async def close(self, store: VectorStore) -> None:
        s: Any = store
        self.client.delete_collection(s.collection_name)

    def count(self, store: VectorStore) -> int:
        s: Any = store
        return int(self.client.count(s.collection_name, exact=True).count)

    def delete_by_id(self, store: VectorStore, doc_id: str) -> None:
        from qdrant_client import models

        s: Any = store
        match = models.FieldCondition(key="metadata.id", match=models.MatchValue(value=doc_id))
        self.client.delete(
            s.collection_name,
            points_selector=models.FilterSelector(filter=models.Filter(must=[match])),
        )

    async def adelete_by_id(self, store: VectorStore, doc_id: str) -> None:
        await run_in_executor(None, self.delete_by_id, store, doc_id)


# ----------------------------------------------------------------------- Chroma


class ChromaKit(Kit):
    """langchain-chroma ``Chroma`` with a persistent directory.

    Delete by expression: ``Chroma.delete`` passes keyword arguments to the collection, so
    ``store.adelete(where={"id": doc_id})`` deletes by the metadata field with the store's
    own (thread-pool backed) async method.
    """

    name = "chroma"

    def start(self, workdir: Path) -> None:
        super().start(workdir)
        _need("langchain_chroma", "chromadb")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    async def open(self, embedding: Embeddings) -> VectorStore:
        from langchain_chroma import Chroma

        return Chroma(
            collection_name=self.collection_name(),
            embedding_function=embedding,
            persist_directory=str(self.workdir / "chroma"),
        )

    async def close(self, store: VectorStore) -> None:
        s: Any = store
        s.delete_collection()

    def count(self, store: VectorStore) -> int:
        s: Any = store
        return len(s.get(include=[])["ids"])

    def delete_by_id(self, store: VectorStore, doc_id: str) -> None:
        store.delete(where={"id": doc_id})

    async def adelete_by_id(self, store: VectorStore, doc_id: str) -> None:
        await store.adelete(where={"id": doc_id})


# ------------------------------------------------------------------------ FAISS


class FaissKit(Kit):
    """LangChain's ``FAISS`` in memory: an empty ``IndexFlatL2`` and an ``InMemoryDocstore``.

    Delete by expression: FAISS can delete only by docstore id, so the kit looks up the ids
    whose document has metadata ``id == doc_id`` (a scan: FAISS has no metadata index)
    and deletes them. The async twin runs that lookup-and-delete with LangChain's
    ``run_in_executor``, exactly as ``FAISS.adelete`` (LangChain's default) runs ``delete``;
    LangChain's FAISS has no lock, so concurrent deletes run on its dicts at once.
    """

    name = "faiss"

    def start(self, workdir: Path) -> None:
        super().start(workdir)
        _need("faiss", "langchain_community.vectorstores")

    async def open(self, embedding: Embeddings) -> VectorStore:
        import faiss
        from langchain_community.docstore.in_memory import InMemoryDocstore
        from langchain_community.vectorstores import FAISS

        return FAISS(
            embedding_function=embedding,
            index=faiss.IndexFlatL2(DIM),
            docstore=InMemoryDocstore(),
            index_to_docstore_id={},
        )

    def count(self, store: VectorStore) -> int:
        s: Any = store
        total = int(s.index.ntotal)
        mapped, stored = len(s.index_to_docstore_id), len(s.docstore._dict)
        if not total == mapped == stored:
            raise RuntimeError(
                f"inconsistent FAISS store: index {total}, id map {mapped}, docstore {stored}"
            )
        return total

    def delete_by_id(self, store: VectorStore, doc_id: str) -> None:
        s: Any = store
        keys = []
        for key in list(s.index_to_docstore_id.values()):
            doc = s.docstore.search(key)  # a message string when another delete took it
            if isinstance(doc, Document) and doc.metadata.get("id") == doc_id:
                keys.append(key)
        if keys:
            s.delete(keys)

    async def adelete_by_id(self, store: VectorStore, doc_id: str) -> None:
        await run_in_executor(None, self.delete_by_id, store, doc_id)


ALL_KITS = (
    "shoal",
    "shoal-hybrid-rrf",
    "shoal-hybrid-weighted",
    "shoal-server",
    "milvus-lite",
    "qdrant-memory",
    "qdrant-disk",
    "chroma",
    "faiss",
)


def make_kit(name: str) -> Kit:
    """The kit called ``name`` (one of :data:`ALL_KITS`)."""
    kits: dict[str, Any] = {
        "shoal": ShoalKit,
        "shoal-hybrid-rrf": lambda: ShoalHybridKit("rrf"),
        "shoal-hybrid-weighted": lambda: ShoalHybridKit("weighted"),
        "shoal-server": ShoalServerKit,
        "milvus-lite": MilvusLiteKit,
        "qdrant-memory": lambda: QdrantKit(on_disk=False),
        "qdrant-disk": lambda: QdrantKit(on_disk=True),
        "chroma": ChromaKit,
        "faiss": FaissKit,
    }
    return kits[name]()  # type: ignore[no-any-return]


def remove_tree(path: Path) -> None:
    """Delete a benchmark folder, ignoring what is already gone."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path, ignore_errors=True)
