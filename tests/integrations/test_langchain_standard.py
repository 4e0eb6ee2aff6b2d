"""langchain-tests' standard VectorStore suite (sync and async) against ShoalVectorStore."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests
from threaded_server import serve_in_thread

from shoal.integrations.langchain import ShoalVectorStore

HAS_HTTP = importlib.util.find_spec("shoal.client._async.http") is not None


class TestEmbeddedStandard(VectorStoreIntegrationTests):
    """A fresh in-memory store per test."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:  # type: ignore[override]
        store = ShoalVectorStore(embedding_function=self.get_embeddings())
        try:
            yield store
        finally:
            store.close()


class TestEmbeddedPathStandard(VectorStoreIntegrationTests):
    """A durable store in a storage folder, emptied by drop() between tests."""

    @pytest.fixture
    def vectorstore(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorStore]:  # type: ignore[override]
        path = tmp_path_factory.getbasetemp() / "standard-store"
        store = ShoalVectorStore(
            embedding_function=self.get_embeddings(),
            connection_args={"uri": str(path)},
            drop_old=True,
        )
        try:
            yield store
        finally:
            store.drop()
            store.close()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


@pytest.mark.skipif(
    not HAS_HTTP,
    reason="shoal.client._async.http (the HTTP transport) is not in this build yet",
)
class TestServerStandard(VectorStoreIntegrationTests):
    """A store talking HTTP to `shoal serve` running in this process (a thread)."""

    @pytest.fixture
    def vectorstore(self, server_url: str) -> Iterator[VectorStore]:  # type: ignore[override]
        store = ShoalVectorStore(
            embedding_function=self.get_embeddings(),
            connection_args={"uri": server_url},
            drop_old=True,
        )
        try:
            yield store
        finally:
            store.drop()
            store.close()
