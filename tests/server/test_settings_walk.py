"""Every field of Qdrant's request models is honoured or refused, never accepted and dropped.

The walk is driven by Qdrant's OpenAPI spec (``tests/data/qdrant-openapi.json``): for each
field of the walked schemas it sends a valid request (checked against the spec) with a
non-default value, and asserts either that Shoal honours it (``get_collection`` shows it, or
the results or the engine's prepared query change as asked) or that it is refused with
``NotSupported`` naming it, changing nothing. A field the spec has and ``CASES`` does not
fails the walk, so a newer spec cannot slip a setting past it.

Each case runs on three transports: the embedded client, Shoal's HTTP client against the
in-process server, and raw HTTP (which also checks Qdrant's error envelope).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from server_support import IN_PROCESS_URL, SPEC_PATH, http_client
from starlette.testclient import TestClient

from shoal import Client, errors
from shoal import models as m
from shoal.client._async.http import ERROR_TYPE_HEADER, error_from_response
from shoal.engine import Database
from shoal.engine.query import PreparedQuery, Searcher
from shoal.server import ServerConfig, create_app

SPEC = json.loads(SPEC_PATH.read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

VEC = {"size": 4, "distance": "Cosine"}
QUERY_COLLECTION = "walk-query"
NAMED = {"a": {"size": 4, "distance": "Cosine"}, "b": {"size": 4, "distance": "Euclid"}}
SPARSE = {"s": {"modifier": "idf"}}
POINTS = [
    {"id": i, "vector": {"a": [1.0, i / 10, 0.5, 0.0], "b": [float(i), 0.0, 1.0, 2.0]}}
    | {"payload": {"i": i, "f": 9 - i}}  # "f" has an integer index
    for i in range(10)
]
for _p in POINTS:  # each point also has sparse vector s: index 100 + its id, and 1
    _p["vector"]["s"] = {"indices": [1, 100 + _p["id"]], "values": [0.5, 1.0]}
Q = [1.0, 0.0, 0.5, 0.0]
BASE_QUERY = {"query": Q, "using": "a", "limit": 10}


# ------------------------------------------------------------------ transports


class Runner:
    """One way to reach Shoal; every call raises Shoal's typed errors."""

    def create(self, name: str, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def info(self, name: str) -> m.CollectionInfo:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def drop(self, name: str) -> None:
        raise NotImplementedError

    def index(self, name: str, field_schema: dict[str, Any]) -> None:
        raise NotImplementedError

    def query(self, name: str, body: dict[str, Any]) -> m.QueryResponse:
        raise NotImplementedError

    def upsert(self, name: str, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def count(self, name: str) -> int:
        raise NotImplementedError


# CreateCollection's fields as create_collection's arguments (qdrant-client's names).
ARGUMENT = {"vectors": "vectors_config", "sparse_vectors": "sparse_vectors_config"}


@dataclass
class ClientRunner(Runner):
    """A Shoal ``Client``: embedded, or over HTTP to the in-process server."""

    client: Client

    def create(self, name: str, body: dict[str, Any]) -> None:
        kwargs = {ARGUMENT.get(k, k): v for k, v in body.items()}
        self.client.create_collection(name, **kwargs)

    def info(self, name: str) -> m.CollectionInfo:
        return self.client.get_collection(name)

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def index(self, name: str, field_schema: dict[str, Any]) -> None:
        self.client.create_payload_index(name, "f", field_schema=field_schema)

    def query(self, name: str, body: dict[str, Any]) -> m.QueryResponse:
        return self.client.query_batch_points(name, [body])[0]  # type: ignore[list-item]

    def upsert(self, name: str, body: dict[str, Any]) -> None:
        self.client.batch_update_points(name, [{"upsert": body}])

    def count(self, name: str) -> int:
        return self.client.count(name).count


@dataclass
class RawRunner(Runner):
    """Plain HTTP requests, as any Qdrant client sends them."""

    http: TestClient

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code == 200:
            return response.json()["result"]
        envelope = response.json()
        assert set(envelope) == {"status", "time"} and set(envelope["status"]) == {"error"}
        exc = error_from_response(response)
        if response.headers.get(ERROR_TYPE_HEADER) == "NotSupported":
            assert response.status_code == 400
        raise exc

    def create(self, name: str, body: dict[str, Any]) -> None:
        self._call("PUT", f"/collections/{name}", body)

    def info(self, name: str) -> m.CollectionInfo:
        return m.CollectionInfo.model_validate(self._call("GET", f"/collections/{name}"))

    def exists(self, name: str) -> bool:
        return bool(self._call("GET", f"/collections/{name}/exists")["exists"])

    def drop(self, name: str) -> None:
        self._call("DELETE", f"/collections/{name}")

    def index(self, name: str, field_schema: dict[str, Any]) -> None:
        body = {"field_name": "f", "field_schema": field_schema}
        self._call("PUT", f"/collections/{name}/index?wait=true", body)

    def query(self, name: str, body: dict[str, Any]) -> m.QueryResponse:
        result = self._call("POST", f"/collections/{name}/points/query", body)
        return m.QueryResponse.model_validate(result)

    def upsert(self, name: str, body: dict[str, Any]) -> None:
        self._call("PUT", f"/collections/{name}/points?wait=true", body)

    def count(self, name: str) -> int:
        return int(self._call("POST", f"/collections/{name}/points/count", {})["count"])


@pytest.fixture(scope="module")
def runners() -> Iterator[dict[str, Runner]]:
    db = Database(None)
    embedded = Client(":memory:")
    try:
        with TestClient(create_app(ServerConfig(), database=db)) as tc:
            over_http = http_client(IN_PROCESS_URL, tc)
            all_runners: dict[str, Runner] = {
                "embedded": ClientRunner(embedded),
                "http-client": ClientRunner(over_http),
                "raw-http": RawRunner(tc),
            }
            for runner in (all_runners["embedded"], all_runners["raw-http"]):
                runner.create(QUERY_COLLECTION, {"vectors": NAMED, "sparse_vectors": SPARSE})
                runner.upsert(QUERY_COLLECTION, {"points": POINTS})
                runner.index(QUERY_COLLECTION, {"type": "integer"})
            yield all_runners
            over_http.close()
    finally:
        embedded.close()
        db.close()


# ------------------------------------------------------------------------ cases


@dataclass
class Context:
    """What a check of an honoured setting can look at."""

    runner: Runner
    name: str
    result: Any
    prepared: list[PreparedQuery] = field(default_factory=list)

    def info(self) -> m.CollectionInfo:
        return self.runner.info(self.name)

    def base(self) -> m.QueryResponse:
        return self.runner.query(QUERY_COLLECTION, BASE_QUERY)


Check = Callable[[Context], None]


@dataclass(frozen=True)
class Case:
    value: Any
    check: Check | None = None  # honoured: what shows it; None: refused
    names: str | None = None  # what the refusal names (default: the field's path)


def refused(value: Any, names: str | None = None) -> Case:
    return Case(value, None, names)


def honoured(value: Any, check: Check) -> Case:
    return Case(value, check)


def config(get: Callable[[m.CollectionConfig], Any], expected: Any) -> Check:
    """get_collection's config shows ``expected``."""

    def check(ctx: Context) -> None:
        shown = get(ctx.info().config)
        shown = shown.model_dump(exclude_none=True) if hasattr(shown, "model_dump") else shown
        assert shown == expected

    return check


def _sparse_all(c: m.CollectionConfig) -> dict[str, Any]:
    return {k: v.model_dump(exclude_none=True) for k, v in (c.params.sparse_vectors or {}).items()}


def _sparse_text(c: m.CollectionConfig) -> Any:
    assert c.params.sparse_vectors is not None
    return c.params.sparse_vectors["text"]


def vector_params(ctx: Context) -> m.VectorParams:
    vectors = ctx.info().config.params.vectors
    assert isinstance(vectors, m.VectorParams)
    return vectors


def prepared(attr: str, expected: Any) -> Check:
    """The engine's prepared query carries the setting (it is what the planner uses)."""

    def check(ctx: Context) -> None:
        assert ctx.prepared and all(getattr(p, attr) == expected for p in ctx.prepared)

    return check


def ids(response: m.QueryResponse) -> list[Any]:
    return [p.id for p in response.points]


def indexed(kind: str) -> Check:
    def check(ctx: Context) -> None:
        assert ctx.info().payload_schema["f"].data_type == kind

    return check


def results(test: Callable[[m.QueryResponse, Context], bool]) -> Check:
    def check(ctx: Context) -> None:
        assert test(ctx.result, ctx)

    return check


def upserted(ctx: Context) -> None:
    assert ctx.runner.count(ctx.name) == 2


def text_params(name: str, value: Any) -> Check:
    """The text index shows the setting in ``payload_schema[...].params``, as Qdrant does."""

    def check(ctx: Context) -> None:
        shown = ctx.info().payload_schema["f"].params
        assert shown == {"type": "text", "tokenizer": "word", name: value}

    return check


STEMMER = {"type": "snowball", "language": "english"}
SCALAR = {"scalar": {"type": "int8"}}
STRICT = {"enabled": True, "max_query_limit": 100}
FILTER = {"must": [{"key": "i", "range": {"gte": 5}}]}
INDEX_KINDS = ("keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid")


def index_cases(kind: str) -> dict[str, list[Case]]:
    """The fields every payload index type has."""
    return {
        "type": [honoured(kind, indexed(kind))],
        "on_disk": [refused(True)],
        "memory": [refused("cold")],
        # Shoal builds no payload links, so false is what it does anyway.
        "enable_hnsw": [honoured(False, indexed(kind))],
    }


CASES: dict[tuple[str, str], list[Case]] = {
    # ---- create_collection
    ("CreateCollection", "vectors"): [
        honoured({"size": 3, "distance": "Dot"}, lambda c: _true(vector_params(c).size == 3))
    ],
    ("CreateCollection", "shard_number"): [refused(2)],
    ("CreateCollection", "sharding_method"): [refused("custom")],
    ("CreateCollection", "replication_factor"): [refused(2)],
    ("CreateCollection", "write_consistency_factor"): [refused(2)],
    ("CreateCollection", "on_disk_payload"): [
        honoured(False, config(lambda c: c.params.on_disk_payload, False))
    ],
    ("CreateCollection", "payload"): [
        honoured({"memory": "cached"}, config(lambda c: c.params.payload, {"memory": "cached"}))
    ],
    ("CreateCollection", "hnsw_config"): [honoured({"m": 8}, config(lambda c: c.hnsw_config.m, 8))],
    ("CreateCollection", "wal_config"): [
        refused({"wal_capacity_mb": 64}, "wal_config.wal_capacity_mb")
    ],
    ("CreateCollection", "optimizers_config"): [
        refused({"deleted_threshold": 0.5}, "optimizers_config.deleted_threshold")
    ],
    ("CreateCollection", "quantization_config"): [
        honoured(SCALAR, config(lambda c: c.quantization_config, SCALAR))
    ],
    ("CreateCollection", "sparse_vectors"): [
        honoured({"text": {}}, config(_sparse_all, {"text": {}}))
    ],
    ("CreateCollection", "strict_mode_config"): [
        honoured(STRICT, config(lambda c: c.strict_mode_config, STRICT))
    ],
    ("CreateCollection", "metadata"): [
        honoured({"k": ["v", 1]}, config(lambda c: c.metadata, {"k": ["v", 1]}))
    ],
    # ---- vectors_config
    ("VectorParams", "size"): [honoured(7, lambda c: _true(vector_params(c).size == 7))],
    ("VectorParams", "distance"): [
        honoured("Euclid", lambda c: _true(vector_params(c).distance == m.Distance.EUCLID))
    ],
    ("VectorParams", "hnsw_config"): [
        honoured({"ef_construct": 64}, lambda c: _true(_vec_hnsw(c).ef_construct == 64))
    ],
    ("VectorParams", "quantization_config"): [
        honoured(SCALAR, lambda c: _true(vector_params(c).quantization_config == SCALAR)),
        refused({"product": {"compression": "x4"}}, "vectors.quantization_config.product"),
    ],
    ("VectorParams", "on_disk"): [refused(True)],
    ("VectorParams", "memory"): [refused("cold"), refused("pinned")],
    ("VectorParams", "datatype"): [refused("float16"), refused("uint8")],
    ("VectorParams", "multivector_config"): [
        honoured(
            {"comparator": "max_sim"},
            lambda c: _true(vector_params(c).multivector_config.comparator == "max_sim"),
        )
    ],
    # ---- sparse vectors
    ("SparseVectorParams", "index"): [
        honoured(
            {"full_scan_threshold": 10},
            config(_sparse_text, {"index": {"full_scan_threshold": 10}}),
        )
    ],
    ("SparseVectorParams", "modifier"): [
        honoured("idf", config(_sparse_text, {"modifier": "idf"}))
    ],
    ("SparseIndexParams", "full_scan_threshold"): [
        honoured(10, config(_sparse_text, {"index": {"full_scan_threshold": 10}}))
    ],
    **{
        ("SparseIndexParams", f): [refused(v, f"sparse_vectors.text.index.{f}")]
        for f, v in (
            ("on_disk", True),
            ("memory", "cold"),
            ("datatype", "float16"),
        )
    },
    # ---- hnsw_config
    ("HnswConfigDiff", "m"): [honoured(8, config(lambda c: c.hnsw_config.m, 8))],
    ("HnswConfigDiff", "ef_construct"): [
        honoured(64, config(lambda c: c.hnsw_config.ef_construct, 64))
    ],
    ("HnswConfigDiff", "full_scan_threshold"): [
        honoured(100, config(lambda c: c.hnsw_config.full_scan_threshold, 100))
    ],
    ("HnswConfigDiff", "max_indexing_threads"): [
        honoured(2, config(lambda c: c.hnsw_config.max_indexing_threads, 2))
    ],
    ("HnswConfigDiff", "on_disk"): [refused(True)],
    ("HnswConfigDiff", "memory"): [refused("cold")],
    ("HnswConfigDiff", "payload_m"): [refused(8)],
    ("HnswConfigDiff", "inline_storage"): [refused(True)],
    # ---- optimizers_config: Shoal has no segments; indexing_threshold decides the index
    ("OptimizersConfigDiff", "deleted_threshold"): [refused(0.5)],
    ("OptimizersConfigDiff", "vacuum_min_vector_number"): [refused(500)],
    ("OptimizersConfigDiff", "default_segment_number"): [refused(2)],
    ("OptimizersConfigDiff", "max_segment_size"): [refused(1000)],
    ("OptimizersConfigDiff", "memmap_threshold"): [refused(1000)],
    ("OptimizersConfigDiff", "indexing_threshold"): [
        honoured(0, config(lambda c: c.optimizer_config.indexing_threshold, 0))
    ],
    ("OptimizersConfigDiff", "flush_interval_sec"): [refused(1)],
    ("OptimizersConfigDiff", "max_optimization_threads"): [
        honoured(v, config(lambda c: c.optimizer_config.max_optimization_threads, v))
        for v in (0, 1, 2)
    ],
    ("OptimizersConfigDiff", "prevent_unoptimized"): [refused(True)],
    # ---- wal_config
    ("WalConfigDiff", "wal_capacity_mb"): [refused(64)],
    ("WalConfigDiff", "wal_segments_ahead"): [refused(2)],
    ("WalConfigDiff", "wal_retain_closed"): [refused(3)],
    # ---- payload storage
    ("PayloadStorageParams", "memory"): [
        honoured("cached", config(lambda c: c.params.payload, {"memory": "cached"})),
        refused("pinned"),
    ],
    # ---- strict mode: shown as given; each limit's checks are in tests/engine/test_strict.py
    **{
        ("StrictModeConfig", f): [honoured(v, config(lambda c: c.strict_mode_config, {f: v}))]
        for f, v in (
            ("enabled", True),
            ("max_query_limit", 10),
            ("max_timeout", 10),
            ("unindexed_filtering_retrieve", False),
            ("unindexed_filtering_update", False),
            ("search_max_hnsw_ef", 10),
            ("search_allow_exact", False),
            ("search_max_oversampling", 2.0),
            ("upsert_max_batchsize", 10),
            ("search_max_batchsize", 10),
            ("read_rate_limit", 10),
            ("write_rate_limit", 10),
            ("max_points_count", 10),
            ("filter_max_conditions", 10),
            ("condition_max_size", 10),
            ("max_payload_index_count", 2),
        )
    },
    **{
        ("StrictModeConfig", f): [refused(v)]
        for f, v in (
            ("max_collection_vector_size_bytes", 10),
            ("max_collection_payload_size_bytes", 10),
            ("multivector_config", {"v": {"max_vectors": 2}}),
            ("sparse_config", {"text": {"max_length": 2}}),
            ("max_resident_memory_percent", 50),
        )
    },
    # ---- quantization configs
    ("ScalarQuantizationConfig", "type"): [
        honoured("int8", config(lambda c: c.quantization_config, SCALAR))
    ],
    ("ScalarQuantizationConfig", "quantile"): [
        honoured(0.99, config(lambda c: c.quantization_config["scalar"]["quantile"], 0.99))
    ],
    ("ScalarQuantizationConfig", "always_ram"): [
        honoured(True, config(lambda c: c.quantization_config["scalar"]["always_ram"], True))
    ],
    ("ScalarQuantizationConfig", "memory"): [refused("cold")],
    **{
        (schema, f): [refused(v, f"quantization_config.{kind}")]
        for schema, kind, fields in (
            (
                "ProductQuantizationConfig",
                "product",
                (("compression", "x32"), ("always_ram", True), ("memory", "cold")),
            ),
            (
                "BinaryQuantizationConfig",
                "binary",
                (
                    ("always_ram", True),
                    ("memory", "cold"),
                    ("encoding", "two_bits"),
                    ("query_encoding", "scalar8bits"),
                ),
            ),
            (
                "TurboQuantQuantizationConfig",
                "turbo",
                (("always_ram", True), ("memory", "cold"), ("bits", "bits2")),
            ),
        )
        for f, v in fields
    },
    # ---- payload index parameters
    **{
        (f"{kind.capitalize()}IndexParams", f): cases
        for kind in INDEX_KINDS
        for f, cases in index_cases(kind).items()
    },
    ("KeywordIndexParams", "is_tenant"): [refused(True)],
    ("KeywordIndexParams", "prefix"): [refused(True)],
    ("IntegerIndexParams", "lookup"): [refused(False)],
    ("IntegerIndexParams", "range"): [refused(False)],
    ("IntegerIndexParams", "is_principal"): [refused(True)],
    ("FloatIndexParams", "is_principal"): [refused(True)],
    ("DatetimeIndexParams", "is_principal"): [refused(True)],
    ("UuidIndexParams", "is_tenant"): [refused(True)],
    # Text index settings decide how full-text conditions match (tests/engine/test_text_index.py).
    ("TextIndexParams", "tokenizer"): [
        honoured("whitespace", text_params("tokenizer", "whitespace")),
        honoured("prefix", text_params("tokenizer", "prefix")),
        refused("multilingual"),
    ],
    ("TextIndexParams", "min_token_len"): [honoured(2, text_params("min_token_len", 2))],
    ("TextIndexParams", "max_token_len"): [honoured(10, text_params("max_token_len", 10))],
    ("TextIndexParams", "lowercase"): [honoured(False, text_params("lowercase", False))],
    ("TextIndexParams", "ascii_folding"): [refused(True)],
    ("TextIndexParams", "phrase_matching"): [honoured(True, text_params("phrase_matching", True))],
    ("TextIndexParams", "stopwords"): [
        honoured("english", text_params("stopwords", "english")),
        refused("french", "'french'"),
    ],
    ("TextIndexParams", "stemmer"): [
        honoured(STEMMER, text_params("stemmer", STEMMER)),
        refused({"type": "snowball", "language": "armenian"}, "'armenian'"),
    ],
    # ---- search params
    ("SearchParams", "hnsw_ef"): [honoured(32, prepared("ef", 32))],
    ("SearchParams", "exact"): [honoured(True, prepared("exact", True))],
    ("SearchParams", "quantization"): [
        honoured({"oversampling": 2.0}, prepared("oversampling", 2.0))
    ],
    ("SearchParams", "indexed_only"): [refused(True)],
    ("SearchParams", "acorn"): [refused({"enable": True}, "params.acorn.enable")],
    ("SearchParams", "idf"): [
        honoured("global", prepared("idf_corpus", None)),
        honoured({"corpus": FILTER}, lambda c: _true(all(p.idf_corpus for p in c.prepared))),
    ],
    ("QuantizationSearchParams", "ignore"): [refused(True)],
    ("QuantizationSearchParams", "rescore"): [refused(False)],
    ("QuantizationSearchParams", "oversampling"): [honoured(3.0, prepared("oversampling", 3.0))],
    ("AcornSearchParams", "enable"): [refused(True)],
    ("AcornSearchParams", "max_selectivity"): [refused(0.5)],
    # ---- query request
    ("QueryRequest", "shard_key"): [refused("tenant-1")],
    # The query re-ranks what the prefetch found: at most its 10 points.
    ("QueryRequest", "prefetch"): [
        honoured([{"query": Q, "using": "a", "limit": 3}], results(lambda r, c: len(ids(r)) == 3))
    ],
    ("QueryRequest", "query"): [
        honoured([0.0, 1.0, 0.0, 0.0], results(lambda r, c: ids(r)[0] == 9))
    ],
    ("QueryRequest", "using"): [
        # Euclid distances on vector b: point 1 is nearest, at sqrt(0 + 0 + 0.25 + 4).
        honoured(
            "b", results(lambda r, c: ids(r)[0] == 1 and abs(r.points[0].score - 4.25**0.5) < 1e-5)
        )
    ],
    ("QueryRequest", "filter"): [
        honoured(FILTER, results(lambda r, c: sorted(ids(r)) == [5, 6, 7, 8, 9]))
    ],
    ("QueryRequest", "params"): [honoured({"exact": True}, prepared("exact", True))],
    ("QueryRequest", "score_threshold"): [
        honoured(
            0.95,
            results(lambda r, c: 0 < len(r.points) < 10 and all(p.score >= 0.95 for p in r.points)),
        )
    ],
    ("QueryRequest", "limit"): [honoured(3, results(lambda r, c: ids(r) == ids(c.base())[:3]))],
    ("QueryRequest", "offset"): [honoured(4, results(lambda r, c: ids(r) == ids(c.base())[4:]))],
    ("QueryRequest", "with_vector"): [
        honoured(
            True, results(lambda r, c: all(set(p.vector) == {"a", "b", "s"} for p in r.points))
        )
    ],
    ("QueryRequest", "with_payload"): [
        honoured(True, results(lambda r, c: all("i" in p.payload for p in r.points)))
    ],
    # Used by a query by point id (tests/engine/test_groups_vs_qdrant_local.py); with a
    # vector, as here, it has nothing to look up, as in Qdrant.
    ("QueryRequest", "lookup_from"): [
        honoured({"collection": "other"}, results(lambda r, c: len(ids(r)) == 10))
    ],
    ("NearestQuery", "nearest"): [
        honoured([0.0, 1.0, 0.0, 0.0], results(lambda r, c: ids(r)[0] == 9))
    ],
    # MMR: the nearest point (0) first, then the re-ranked rest (tests/engine/test_mmr_*).
    ("NearestQuery", "mmr"): [
        honoured({"diversity": 0.5}, results(lambda r, c: ids(r)[0] == 0 and len(ids(r)) == 10))
    ],
    ("Mmr", "diversity"): [honoured(1.0, results(lambda r, c: ids(r)[0] == 0))],
    ("Mmr", "candidates_limit"): [honoured(3, results(lambda r, c: len(ids(r)) == 3))],
    # ---- upserts
    ("PointsList", "points"): [
        honoured(
            [{"id": 1, "vector": [1.0, 0, 0, 0]}, {"id": 2, "vector": [0, 1.0, 0, 0]}], upserted
        )
    ],
    ("PointsBatch", "batch"): [
        honoured({"ids": [1, 2], "vectors": [[1.0, 0, 0, 0], [0, 1.0, 0, 0]]}, upserted)
    ],
    **{(schema, "shard_key"): [refused("tenant-1")] for schema in ("PointsList", "PointsBatch")},
    # A new point is inserted whatever the filter; update_only writes no new point
    # (tests/engine/test_conditional_upsert.py checks both against local mode).
    **{
        (schema, "update_filter"): [honoured(FILTER, lambda c: _true(c.runner.count(c.name) == 1))]
        for schema in ("PointsList", "PointsBatch")
    },
    **{
        (schema, "update_mode"): [
            honoured("update_only", lambda c: _true(c.runner.count(c.name) == 0))
        ]
        for schema in ("PointsList", "PointsBatch")
    },
}


def _true(ok: bool) -> None:
    assert ok


def _vec_hnsw(ctx: Context) -> m.HnswConfigDiff:
    hnsw = vector_params(ctx).hnsw_config
    assert hnsw is not None
    return hnsw


# Qdrant's Query variants and vector inputs: an example of each, and what Shoal does with it.
QUERY_VARIANTS: dict[str, Case] = {
    "NearestQuery": honoured(
        {"nearest": [0.0, 1.0, 0.0, 0.0]}, results(lambda r, c: ids(r)[0] == 9)
    ),
    # The example points are left out (tests/engine/test_recommend_vs_qdrant_local.py).
    "RecommendQuery": honoured(
        {"recommend": {"positive": [1]}},
        results(lambda r, c: len(ids(r)) == 9 and 1 not in ids(r) and ids(r)[0] in (0, 2)),
    ),
    "DiscoverQuery": honoured(
        {"discover": {"target": 1, "context": [{"positive": 2, "negative": 3}]}},
        results(lambda r, c: sorted(ids(r)) == [0, 4, 5, 6, 7, 8, 9] and ids(r)[0] == 0),
    ),
    # Points 0 and 1, nearer 2 than 3, break no pair: score 0, the best.
    "ContextQuery": honoured(
        {"context": [{"positive": 2, "negative": 3}]},
        results(lambda r, c: sorted(ids(r)[:2]) == [0, 1] and r.points[0].score == 0.0),
    ),
    # Ordered by the payload's "f" (9 - id), with each point's order value.
    "OrderByQuery": honoured(
        {"order_by": {"key": "f", "direction": "desc"}},
        results(
            lambda r, c: (
                ids(r) == list(range(10))
                and [p.order_value for p in r.points] == list(range(9, -1, -1))
            )
        ),
    ),
    # These combine the results of prefetches (PREFETCHED gives the query two).
    "FusionQuery": honoured({"fusion": "rrf"}, results(lambda r, c: 3 <= len(ids(r)) <= 6)),
    "RrfQuery": honoured({"rrf": {"k": 10}}, results(lambda r, c: 3 <= len(ids(r)) <= 6)),
    "FormulaQuery": honoured(
        {"formula": {"sum": ["$score", 1.0]}},
        results(lambda r, c: len(ids(r)) == 3 and all(p.score > 1.0 for p in r.points)),
    ),
    # As many as the collection holds: every point, once each.
    "SampleQuery": honoured(
        {"sample": "random"}, results(lambda r, c: sorted(ids(r)) == list(range(10)))
    ),
    # The target and the example are points named by id: left out.
    "RelevanceFeedbackQuery": honoured(
        {
            "relevance_feedback": {
                "target": 1,
                "feedback": [{"example": 2, "score": 0.5}],
                "strategy": {"naive": {"a": 1.0, "b": 1.0, "c": 1.0}},
            }
        },
        results(lambda r, c: sorted(ids(r)) == [0, 3, 4, 5, 6, 7, 8, 9]),
    ),
}
VECTOR_INPUTS: dict[str, Case] = {
    "dense": honoured([0.0, 1.0, 0.0, 0.0], results(lambda r, c: ids(r)[0] == 9)),
    "SparseVector": honoured(
        {"indices": [103], "values": [0.5]}, results(lambda r, c: ids(r) == [3])
    ),
    # Run on a multivector collection by tests/engine/test_multivector_vs_qdrant_local.py
    # (this walk's collection has none; on the dense `a` it is an InvalidVector).
    "multivector": refused([[1.0, 0.0, 0.0, 0.0]], "multivector"),
    "ExtendedPointId": honoured(3, results(lambda r, c: 3 not in ids(r) and len(r.points) == 9)),
    # BM25's hashed indices are none of the points' (tests/engine/test_sparse.py has more).
    "Document": honoured(
        {"text": "hello", "model": "qdrant/bm25"}, results(lambda r, c: r.points == [])
    ),
    "Image": refused({"image": "https://example.com/a.png", "model": "clip"}, "Image"),
    "InferenceObject": refused({"object": {"x": 1}, "model": "custom"}, "InferenceObject"),
}


# ----------------------------------------------------------------- placement


@dataclass(frozen=True)
class Place:
    """Where a field of a schema goes in a whole request, and which request it is."""

    kind: str  # "collection", "index", "query" or "upsert"
    wrap: Callable[[dict[str, Any]], dict[str, Any]]


def _collection(wrap: Callable[[dict[str, Any]], dict[str, Any]]) -> Place:
    return Place("collection", lambda f: {"vectors": VEC, **wrap(f)})


def _query(wrap: Callable[[dict[str, Any]], dict[str, Any]]) -> Place:
    return Place("query", lambda f: {**BASE_QUERY, **wrap(f)})


PLACES: dict[str, Place] = {
    "CreateCollection": _collection(lambda f: f),
    "VectorParams": _collection(lambda f: {"vectors": {**VEC, **f}}),
    "SparseVectorParams": _collection(lambda f: {"sparse_vectors": {"text": f}}),
    "SparseIndexParams": _collection(lambda f: {"sparse_vectors": {"text": {"index": f}}}),
    "HnswConfigDiff": _collection(lambda f: {"hnsw_config": f}),
    "OptimizersConfigDiff": _collection(lambda f: {"optimizers_config": f}),
    "WalConfigDiff": _collection(lambda f: {"wal_config": f}),
    "PayloadStorageParams": _collection(lambda f: {"payload": f}),
    "StrictModeConfig": _collection(lambda f: {"strict_mode_config": f}),
    "ScalarQuantizationConfig": _collection(
        lambda f: {"quantization_config": {"scalar": {"type": "int8", **f}}}
    ),
    "ProductQuantizationConfig": _collection(
        lambda f: {"quantization_config": {"product": {"compression": "x16", **f}}}
    ),
    "BinaryQuantizationConfig": _collection(lambda f: {"quantization_config": {"binary": f}}),
    "TurboQuantQuantizationConfig": _collection(lambda f: {"quantization_config": {"turbo": f}}),
    **{
        f"{kind.capitalize()}IndexParams": Place("index", lambda f, kind=kind: {"type": kind, **f})
        for kind in INDEX_KINDS
    },
    "SearchParams": _query(lambda f: {"params": f}),
    "QuantizationSearchParams": _query(lambda f: {"params": {"quantization": f}}),
    "AcornSearchParams": _query(lambda f: {"params": {"acorn": f}}),
    "QueryRequest": _query(lambda f: f),
    "NearestQuery": _query(lambda f: {"query": {"nearest": Q, **f}}),
    "Mmr": _query(lambda f: {"query": {"nearest": Q, "mmr": f}}),
    "PointsList": Place("upsert", lambda f: {"points": [{"id": 1, "vector": Q}], **f}),
    "PointsBatch": Place("upsert", lambda f: {"batch": {"ids": [1], "vectors": [Q]}, **f}),
}
# The request schema each kind of request is validated against.
REQUEST_SCHEMA = {
    "collection": "CreateCollection",
    "index": "CreateFieldIndex",
    "query": "QueryRequest",
    "upsert": "PointInsertOperations",
}
RUNNERS = ("embedded", "http-client", "raw-http")


def spec_fields() -> list[tuple[str, str]]:
    """Every (schema, field) of the walked schemas, from the spec itself."""
    found = []
    for schema in PLACES:
        for name in SCHEMAS[schema].get("properties", {}):
            found.append((schema, name))
    return found


def valid(kind: str, body: dict[str, Any]) -> None:
    """The body is a valid Qdrant request: the walk only sends what Qdrant accepts."""
    document = {**SCHEMAS[REQUEST_SCHEMA[kind]], "components": SPEC["components"]}
    request = {"field_name": "f", "field_schema": body} if kind == "index" else body
    problems = list(OAS30WriteValidator(document, format_checker=oas30_format_checker)
                    .iter_errors(request))  # fmt: skip
    assert not problems, f"not a valid Qdrant {kind} request: {problems[0].message}: {request}"


_names = iter(range(10**9))


def run(
    runner: Runner, kind: str, body: dict[str, Any], case: Case, path: str, seen: list[Any]
) -> None:
    """Send one request; assert it is honoured (the case's check) or refused, naming
    ``case.names`` or ``path``, with nothing changed."""
    valid(kind, body)
    name = f"walk-{next(_names)}"
    if kind in ("index", "upsert"):
        runner.create(name, {"vectors": VEC})
    target = QUERY_COLLECTION if kind == "query" else name
    result: Any = None
    try:
        if kind == "collection":
            runner.create(name, body)
        elif kind == "index":
            runner.index(name, body)
        elif kind == "query":
            result = runner.query(target, body)
        else:
            runner.upsert(name, body)
    except errors.NotSupported as exc:
        assert case.check is None, f"{path}={case.value!r} should be honoured: {exc}"
        named = case.names or path
        assert named in exc.message and "not supported" in exc.message, exc.message
        if kind == "collection":
            assert not runner.exists(name)
        elif kind == "index":
            assert "f" not in runner.info(name).payload_schema
        elif kind == "upsert":
            assert runner.count(name) == 0
    else:
        assert case.check is not None, f"{path}={case.value!r} was accepted, not refused"
        case.check(Context(runner, name, result, list(seen)))
    finally:
        if kind != "query" and runner.exists(name):
            runner.drop(name)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[PreparedQuery]:
    """The queries the engine prepared during the test."""
    found: list[PreparedQuery] = []
    prepare = Searcher.prepare

    def spy(self: Searcher, *args: Any, **kwargs: Any) -> PreparedQuery:
        pq = prepare(self, *args, **kwargs)
        found.append(pq)
        return pq

    monkeypatch.setattr(Searcher, "prepare", spy)
    return found


def _path(schema: str, name: str) -> str:
    """The field's path in the request, as a refusal names it."""
    prefix = {
        "VectorParams": "vectors.", "HnswConfigDiff": "hnsw_config.",
        "OptimizersConfigDiff": "optimizers_config.", "WalConfigDiff": "wal_config.",
        "PayloadStorageParams": "payload.", "StrictModeConfig": "strict_mode_config.",
        "ScalarQuantizationConfig": "quantization_config.scalar.",
        "SearchParams": "params.", "QuantizationSearchParams": "params.quantization.",
        "AcornSearchParams": "params.acorn.", "NearestQuery": "query.",
    }.get(schema, "field_schema." if schema.endswith("IndexParams") else "")  # fmt: skip
    return prefix + name


@pytest.mark.parametrize("transport", RUNNERS)
@pytest.mark.parametrize(("schema", "name"), spec_fields(), ids=lambda x: x)
def test_each_field_is_honoured_or_refused(
    runners: dict[str, Runner], seen: list[PreparedQuery], transport: str, schema: str, name: str
) -> None:
    cases = CASES.get((schema, name))
    assert cases, (
        f"{schema}.{name} is in Qdrant's spec but not in this walk: decide whether Shoal "
        "honours it (src/shoal/engine/support.py) and add a case here"
    )
    place = PLACES[schema]
    for case in cases:
        seen.clear()
        body = place.wrap({name: case.value})
        run(runners[transport], place.kind, body, case, _path(schema, name), seen)


@pytest.mark.parametrize("transport", RUNNERS)
@pytest.mark.parametrize(
    "variant", [ref["$ref"].rsplit("/", 1)[1] for ref in SCHEMAS["Query"]["anyOf"]]
)
def test_each_query_variant_is_run_or_refused(
    runners: dict[str, Runner], seen: list[PreparedQuery], transport: str, variant: str
) -> None:
    case = QUERY_VARIANTS.get(variant)
    assert case is not None, f"Qdrant's Query has a new variant {variant}: add it here"
    body = {**BASE_QUERY, "query": case.value}
    if variant in ("FusionQuery", "RrfQuery", "FormulaQuery"):
        body["prefetch"] = [
            {"query": Q, "using": "a", "limit": 3},
            {"query": Q, "using": "b", "limit": 3},
        ]
    run(runners[transport], "query", body, case, variant, seen)


def _vector_input_names() -> list[str]:
    names = []
    for option in SCHEMAS["VectorInput"]["anyOf"]:
        ref = option.get("$ref", "")
        if ref:
            names.append(ref.rsplit("/", 1)[1])
        else:
            names.append("multivector" if option["items"].get("type") == "array" else "dense")
    return names


@pytest.mark.parametrize("transport", RUNNERS)
@pytest.mark.parametrize("vector_input", _vector_input_names())
def test_each_vector_input_is_run_or_refused(
    runners: dict[str, Runner], seen: list[PreparedQuery], transport: str, vector_input: str
) -> None:
    case = VECTOR_INPUTS.get(vector_input)
    assert case is not None, f"Qdrant's VectorInput has a new form {vector_input}: add it here"
    if vector_input == "multivector":
        pytest.skip("run by tests/engine/test_multivector_vs_qdrant_local.py")
    using = "s" if vector_input in ("SparseVector", "Document") else "a"
    for body in ({**BASE_QUERY, "using": using, "query": case.value},
                 {**BASE_QUERY, "using": using, "query": {"nearest": case.value}}):  # fmt: skip
        run(runners[transport], "query", body, case, vector_input, seen)


def test_the_walk_knows_no_field_the_spec_lacks() -> None:
    fields = set(spec_fields())
    stale = [key for key in CASES if key not in fields]
    assert not stale, f"cases for fields Qdrant's spec does not have: {stale}"
    assert set(QUERY_VARIANTS) == {r["$ref"].rsplit("/", 1)[1] for r in SCHEMAS["Query"]["anyOf"]}


def test_compatibility_doc_lists_the_rules_in_force() -> None:
    tool = Path(__file__).parents[2] / "tools" / "settings_doc.py"
    out = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
