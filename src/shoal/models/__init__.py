"""The wire schema: Qdrant's REST JSON shapes as pydantic v2 models.

Names, field names and enum spellings follow Qdrant's OpenAPI spec so that JSON produced by
the official ``qdrant-client`` parses here and ours parses there. Every field of the request
models Qdrant defines is kept, honoured or not, so a valid Qdrant request always parses; the
engine then refuses what it does not honour with ``NotSupported`` naming the field
(``shoal.engine.support``). Settings Shoal only checks are kept as plain JSON objects. This
module imports nothing from shoal.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, Union

import numpy as np
from pydantic import (
    BaseModel,
    Discriminator,
    PlainSerializer,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
    model_validator,
)

from shoal.models._base import *  # noqa: F403
from shoal.models._base import (
    CollectionStatus,
    Datatype,
    Direction,
    Distance,
    ExtendedPointId,
    Payload,
    PayloadSchemaType,
    UpdateMode,
    UpdateStatus,
    _Model,
    _Response,
)
from shoal.models.filters import *  # noqa: F403
from shoal.models.filters import (
    FieldCondition,
    Filter,
    FilterSelector,
    MinShould,
    Nested,
    PointIdsList,
)

_M = TypeVar("_M", bound=BaseModel)


def assembled(cls: type[_M], values: dict[str, Any], given: set[str] | None = None) -> _M:
    """``cls.model_construct(**values)`` without its per-call bookkeeping, for data that is
    already valid; ``values`` must give every field of ``cls`` (and ``cls`` have no private
    attributes), ``given`` names the fields counted as set (default: all).

    The engine builds a model per point written and per result returned; pydantic's
    ``model_construct`` costs ~5 µs each, this ~1 µs. ``tests/engine/test_result_models.py``
    checks that both build equal objects.
    """
    return assembled_many(cls, [values], given)[0]


def assembled_many(
    cls: type[_M], values: Sequence[dict[str, Any]], given: set[str] | None = None
) -> list[_M]:
    """``assembled`` for many objects of one class (a result page), in one call.

    Args:
        cls: the model class.
        values: each object's values (every field of ``cls``).
        given: the fields counted as set (default: all).

    Returns:
        The objects.
    """
    new, setattr_ = object.__new__, object.__setattr__
    if given is None and values:
        # Every field is set, so the objects can share one set: pydantic only ever adds a
        # field name to it (on assignment), which changes nothing here. One set per page
        # instead of one per object: a third fewer objects for the garbage collector.
        given = set(values[0])
    out = []
    for fields in values:
        obj = new(cls)
        setattr_(obj, "__dict__", fields)
        setattr_(obj, "__pydantic_fields_set__", given)
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        out.append(obj)
    return out


# ---------------------------------------------------------------------- configuration


class HnswConfigDiff(_Model):
    m: int | None = None
    ef_construct: int | None = None
    full_scan_threshold: int | None = None
    max_indexing_threads: int | None = None
    on_disk: bool | None = None
    memory: str | None = None
    payload_m: int | None = None
    inline_storage: bool | None = None


class HnswConfig(_Response):
    m: int
    ef_construct: int
    full_scan_threshold: int
    max_indexing_threads: int | None = 0
    on_disk: bool | None = False
    payload_m: int | None = None


class MultiVectorComparator(str, Enum):
    """How two multivectors compare: Qdrant has MaxSim only (the sum, over the query's
    vectors, of each one's best similarity to the point's vectors)."""

    MAX_SIM = "max_sim"


class MultiVectorConfig(_Model):
    """A dense vector whose points hold several vectors each (ColBERT-style)."""

    # A plain string, so that a comparator Shoal lacks is refused by name (NotSupported)
    # rather than failing validation.
    comparator: MultiVectorComparator | str


class VectorParams(_Model):
    size: int
    distance: Distance
    hnsw_config: HnswConfigDiff | None = None
    quantization_config: dict[str, Any] | None = None
    on_disk: bool | None = None
    memory: str | None = None
    datatype: Datatype | None = None
    multivector_config: MultiVectorConfig | dict[str, Any] | None = None


VectorsConfig = Union[VectorParams, dict[str, VectorParams]]


class Modifier(str, Enum):
    """How a sparse vector's query is weighed: ``idf`` by each index's inverse document
    frequency in the collection."""

    NONE = "none"
    IDF = "idf"


class SparseIndexParams(_Model):
    full_scan_threshold: int | None = None
    on_disk: bool | None = None
    memory: str | None = None
    datatype: Datatype | None = None


class SparseVectorParams(_Model):
    index: SparseIndexParams | None = None
    modifier: Modifier | None = None


class OptimizersConfig(_Response):
    deleted_threshold: float = 0.2
    vacuum_min_vector_number: int = 1000
    default_segment_number: int = 0
    max_segment_size: int | None = None
    memmap_threshold: int | None = None
    indexing_threshold: int | None = 20000
    flush_interval_sec: int = 5
    max_optimization_threads: int | None = None


class WalConfig(_Response):
    wal_capacity_mb: int = 32
    wal_segments_ahead: int = 0


class CollectionParams(_Response):
    vectors: VectorsConfig | None = None
    sparse_vectors: dict[str, SparseVectorParams] | None = None
    shard_number: int | None = 1
    sharding_method: str | None = None
    replication_factor: int | None = 1
    write_consistency_factor: int | None = 1
    on_disk_payload: bool | None = True
    payload: dict[str, Any] | None = None


class CollectionConfig(_Response):
    params: CollectionParams
    hnsw_config: HnswConfig
    optimizer_config: OptimizersConfig
    wal_config: WalConfig | None = None
    quantization_config: dict[str, Any] | None = None
    strict_mode_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class PayloadIndexInfo(_Response):
    data_type: PayloadSchemaType
    params: dict[str, Any] | None = None
    points: int


class CollectionInfo(_Response):
    status: CollectionStatus
    optimizer_status: str | dict[str, str] = "ok"
    indexed_vectors_count: int | None = None
    points_count: int | None = None
    segments_count: int
    config: CollectionConfig
    payload_schema: dict[str, PayloadIndexInfo]


class CollectionDescription(_Response):
    name: str


class CollectionsResponse(_Response):
    collections: list[CollectionDescription]


class CollectionExistence(_Response):
    exists: bool


class CreateCollection(_Model):
    vectors: VectorsConfig | None = None
    shard_number: int | None = None
    sharding_method: str | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk_payload: bool | None = None
    payload: dict[str, Any] | None = None
    hnsw_config: HnswConfigDiff | None = None
    wal_config: dict[str, Any] | None = None
    optimizers_config: dict[str, Any] | None = None
    quantization_config: dict[str, Any] | None = None
    sparse_vectors: dict[str, SparseVectorParams] | None = None
    strict_mode_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class UpdateCollection(_Model):
    """Qdrant's ``PATCH /collections/{name}`` body: changes to a collection's settings."""

    vectors: dict[str, dict[str, Any]] | None = None  # name ("" unnamed) -> VectorParamsDiff
    optimizers_config: dict[str, Any] | None = None
    params: dict[str, Any] | None = None  # CollectionParamsDiff
    hnsw_config: HnswConfigDiff | None = None
    quantization_config: dict[str, Any] | str | None = None  # or "Disabled"
    sparse_vectors: dict[str, Any] | None = None
    strict_mode_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


# ---------------------------------------------------------------------------- points

Vector = list[StrictFloat]  # a strict float accepts ints (as floats), never bools or str


def _array_vector(value: Any) -> np.ndarray:
    # Only numpy arrays take this branch; a list is a `Vector` (strict floats).
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "fiu":
        raise ValueError("expected a list of numbers or a 1-d numeric numpy array")
    # A private read-only copy: the caller may reuse its array while the query waits in a
    # batch, and the engine must not see it change.
    out = value.astype(np.float32 if value.dtype == np.float32 else np.float64)
    out.flags.writeable = False
    return out


def _vector_list(value: np.ndarray) -> list[float]:
    result: list[float] = value.tolist()
    return result


# A query vector given as a numpy array stays one, from the client to the engine's batch:
# while 100 concurrent searches wait, lists of 384 Python floats (each query's, and the
# validated copy) were most of the collector's work (it walks every float of every list in
# flight; an array is a single object it does not track). Serialised as a list.
ArrayVector = Annotated[
    np.ndarray,
    PlainValidator(_array_vector),
    PlainSerializer(_vector_list, return_type=list[float]),
    WithJsonSchema({"type": "array", "items": {"type": "number"}}),
]


class SparseVector(_Model):
    """Qdrant's sparse vector: ``indices`` (unique, any order; Shoal keeps them sorted) and
    their ``values``."""

    indices: list[StrictInt]
    values: list[StrictFloat]


class Document(_Model):
    """Text for the server to embed (inference): Shoal embeds ``qdrant/bm25`` into sparse
    vectors (``shoal.embeddings.BM25``)."""

    text: str
    model: str
    options: dict[str, Any] | None = None


def _is_multi(value: Any) -> bool:
    """A list of vectors (a multivector), told by its first item."""
    return type(value) is list and bool(value) and isinstance(value[0], (list, tuple))


def _named_vector_kind(value: Any) -> str:
    # Chosen by type, as _query_kind: a union tried member by member would parse a dense
    # vector's floats once per member.
    if isinstance(value, dict):
        return "document" if "text" in value else "sparse"
    if isinstance(value, Document):
        return "document"
    if isinstance(value, SparseVector):
        return "sparse"
    return "multi" if _is_multi(value) else "dense"


def _vector_struct_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "named"
    return "multi" if _is_multi(value) else "dense"


def _batch_vectors_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "named"
    return "multi" if type(value) is list and value and _is_multi(value[0]) else "dense"


MultiVector = list[Vector]  # a multivector: vectors of one size (ColBERT-style)

# One named vector of a point: dense, sparse, a multivector, or a document to embed.
NamedVector = Annotated[
    Union[
        Annotated[Vector, Tag("dense")],
        Annotated[SparseVector, Tag("sparse")],
        Annotated[Document, Tag("document")],
        Annotated[MultiVector, Tag("multi")],
    ],
    Discriminator(_named_vector_kind),
]
VectorStruct = Annotated[
    Union[
        Annotated[Vector, Tag("dense")],
        Annotated[MultiVector, Tag("multi")],
        Annotated[dict[str, NamedVector], Tag("named")],
    ],
    Discriminator(_vector_struct_kind),
]
BatchVectorStruct = Annotated[
    Union[
        Annotated[list[Vector], Tag("dense")],
        Annotated[list[MultiVector], Tag("multi")],
        Annotated[dict[str, list[NamedVector]], Tag("named")],
    ],
    Discriminator(_batch_vectors_kind),
]


class PointStruct(_Model):
    id: ExtendedPointId
    vector: VectorStruct
    payload: Payload | None = None


class Batch(_Model):
    ids: list[ExtendedPointId]
    vectors: BatchVectorStruct
    payloads: list[Payload | None] | None = None


class PointsList(_Model):
    points: list[PointStruct]
    shard_key: Any | None = None
    update_filter: Filter | None = None
    update_mode: UpdateMode | None = None


class PointsBatch(_Model):
    batch: Batch
    shard_key: Any | None = None
    update_filter: Filter | None = None
    update_mode: UpdateMode | None = None


class Record(_Response):
    id: ExtendedPointId
    payload: Payload | None = None
    vector: VectorStruct | None = None
    shard_key: Any | None = None
    order_value: StrictInt | StrictFloat | None = None


class ScoredPoint(_Response):
    id: ExtendedPointId
    version: int
    score: float
    payload: Payload | None = None
    vector: VectorStruct | None = None
    shard_key: Any | None = None
    order_value: StrictInt | StrictFloat | None = None


class UpdateResult(_Response):
    operation_id: int | None = None
    status: UpdateStatus


class CountResult(_Response):
    count: int


class QueryResponse(_Response):
    points: list[ScoredPoint]


class ScrollResult(_Response):
    points: list[Record]
    next_page_offset: ExtendedPointId | None = None


# ---------------------------------------------------------------------------- queries


class PayloadSelectorInclude(_Model):
    include: list[str]


class PayloadSelectorExclude(_Model):
    exclude: list[str]


WithPayloadInterface = Union[bool, list[str], PayloadSelectorInclude, PayloadSelectorExclude]
WithVectorInterface = Union[bool, list[str]]


class QuantizationSearchParams(_Model):
    ignore: bool | None = False
    rescore: bool | None = None
    oversampling: float | None = None


class IdfCorpusParams(_Model):
    """IDF statistics over the points ``corpus`` matches (with the vector), not all."""

    corpus: Filter


class SearchParams(_Model):
    hnsw_ef: int | None = None
    exact: bool | None = False
    quantization: QuantizationSearchParams | None = None
    indexed_only: bool | None = False
    acorn: dict[str, Any] | None = None
    idf: Literal["global"] | IdfCorpusParams | None = None


class OrderBy(_Model):
    key: str
    direction: Direction | None = None
    start_from: float | int | datetime | None = None


# Vector inputs besides dense vectors and point ids, and the query kinds besides ``nearest``:
# parsed so that a valid Qdrant query is understood, and refused by the engine, naming the
# kind, until Shoal runs it (``shoal.engine.support``). Their bodies stay plain JSON.


class Image(_Model):
    image: Any
    model: str
    options: dict[str, Any] | None = None


class InferenceObject(_Model):
    object: Any
    model: str
    options: dict[str, Any] | None = None


class RecommendQuery(_Model):
    recommend: dict[str, Any]


class DiscoverQuery(_Model):
    discover: dict[str, Any]


class ContextQuery(_Model):
    context: Any


class OrderByQuery(_Model):
    order_by: str | OrderBy


class FusionQuery(_Model):
    fusion: str


class RrfQuery(_Model):
    rrf: dict[str, Any]


class FormulaQuery(_Model):
    formula: Any
    defaults: dict[str, Any] | None = None


class SampleQuery(_Model):
    sample: str


class RelevanceFeedbackQuery(_Model):
    relevance_feedback: dict[str, Any]


# A JSON object's member is named by its key: a query kind, or a vector input's own key.
_KIND_KEYS = {
    **{k: k for k in ("nearest", "recommend", "discover", "context", "order_by", "fusion")},
    **{k: k for k in ("rrf", "formula", "sample", "relevance_feedback")},
    "indices": "sparse", "text": "document", "image": "image", "object": "object",
}  # fmt: skip


def _query_kind(value: Any) -> str | None:
    # Chosen by type (a JSON object by its key), not by trying each member: pydantic's smart
    # union would also try an array as a list, float by float (25 µs for 384 dimensions,
    # against 1.5 µs).
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, list):
        return "multi" if value and isinstance(value[0], (list, np.ndarray)) else "vector"
    if isinstance(value, dict):
        return next((_KIND_KEYS[k] for k in value if k in _KIND_KEYS), None)
    if isinstance(value, BaseModel):
        return _KIND_OF_MODEL.get(type(value))
    return "id"


_VectorInputs = Union[
    Annotated[Vector, Tag("vector")],
    Annotated[ArrayVector, Tag("array")],
    Annotated[ExtendedPointId, Tag("id")],
    Annotated[list[Vector], Tag("multi")],
    Annotated[SparseVector, Tag("sparse")],
    Annotated[Document, Tag("document")],
    Annotated[Image, Tag("image")],
    Annotated[InferenceObject, Tag("object")],
]
_NOT_A_QUERY = Discriminator(
    _query_kind,
    custom_error_type="query_kind",
    custom_error_message="expected a vector, a point id, or a query object such as "
    "{'nearest': ...} or {'recommend': ...}",
)
VectorInput = Annotated[_VectorInputs, _NOT_A_QUERY]


class NearestQuery(_Model):
    nearest: VectorInput
    mmr: dict[str, Any] | None = None


QueryInterface = Annotated[
    Union[
        _VectorInputs,
        Annotated[NearestQuery, Tag("nearest")],
        Annotated[RecommendQuery, Tag("recommend")],
        Annotated[DiscoverQuery, Tag("discover")],
        Annotated[ContextQuery, Tag("context")],
        Annotated[OrderByQuery, Tag("order_by")],
        Annotated[FusionQuery, Tag("fusion")],
        Annotated[RrfQuery, Tag("rrf")],
        Annotated[FormulaQuery, Tag("formula")],
        Annotated[SampleQuery, Tag("sample")],
        Annotated[RelevanceFeedbackQuery, Tag("relevance_feedback")],
    ],
    _NOT_A_QUERY,
]
_KIND_OF_MODEL: dict[type[BaseModel], str] = {
    NearestQuery: "nearest", RecommendQuery: "recommend", DiscoverQuery: "discover",
    ContextQuery: "context", OrderByQuery: "order_by", FusionQuery: "fusion", RrfQuery: "rrf",
    FormulaQuery: "formula", SampleQuery: "sample", RelevanceFeedbackQuery: "relevance_feedback",
    SparseVector: "sparse", Document: "document", Image: "image", InferenceObject: "object",
}  # fmt: skip


class LookupLocation(_Model):
    """Where ``lookup_from`` takes a point id query's vector: another collection's."""

    collection: str
    vector: str | None = None
    shard_key: Any | None = None


class Prefetch(_Model):
    """A sub-query whose results the outer query fuses, rescores or re-ranks."""

    prefetch: list[Prefetch] | Prefetch | None = None
    query: QueryInterface | None = None
    using: str | None = None
    filter: Filter | None = None
    params: SearchParams | None = None
    score_threshold: float | None = None
    limit: int | None = None
    lookup_from: LookupLocation | None = None


class QueryFields(_Model):
    """What a query and a grouped query both ask (``QueryRequest``, ``QueryGroupsRequest``)."""

    shard_key: Any | None = None
    prefetch: list[Prefetch] | Prefetch | None = None
    query: QueryInterface | None = None
    using: str | None = None
    filter: Filter | str | None = None
    params: SearchParams | None = None
    score_threshold: float | None = None
    with_vector: WithVectorInterface | None = None
    with_payload: WithPayloadInterface | None = None
    lookup_from: LookupLocation | None = None


class QueryRequest(QueryFields):
    limit: int | None = None
    offset: int | None = None


GroupId = Union[StrictInt, StrictStr]


class QueryGroupsRequest(QueryFields):
    group_by: str
    group_size: int | None = None
    limit: int | None = None
    with_lookup: Any | None = None


class PointGroup(_Response):
    hits: list[ScoredPoint]
    id: GroupId
    lookup: Record | None = None


class GroupsResult(_Response):
    groups: list[PointGroup]


class QueryRequestBatch(_Model):
    searches: list[QueryRequest]


class ScrollRequest(_Model):
    shard_key: Any | None = None
    offset: ExtendedPointId | None = None
    limit: int | None = None
    filter: Filter | str | None = None
    with_payload: WithPayloadInterface | None = None
    with_vector: WithVectorInterface | None = None
    order_by: str | OrderBy | None = None


class CountRequest(_Model):
    shard_key: Any | None = None
    filter: Filter | str | None = None
    exact: bool = True


class PointRequest(_Model):
    shard_key: Any | None = None
    ids: list[ExtendedPointId]
    with_payload: WithPayloadInterface | None = None
    with_vector: WithVectorInterface = False


# ---------------------------------------------------------------------- payload updates


class SetPayload(_Model):
    payload: Payload
    points: list[ExtendedPointId] | None = None
    filter: Filter | str | None = None
    shard_key: Any | None = None
    key: str | None = None


class DeletePayload(_Model):
    keys: list[str]
    points: list[ExtendedPointId] | None = None
    filter: Filter | str | None = None
    shard_key: Any | None = None


# ------------------------------------------------------------ batched updates (points/batch)


class UpsertOperation(_Model):
    upsert: PointsList | PointsBatch


class DeleteOperation(_Model):
    delete: PointIdsList | FilterSelector


class SetPayloadOperation(_Model):
    set_payload: SetPayload


class OverwritePayloadOperation(_Model):
    overwrite_payload: SetPayload


class DeletePayloadOperation(_Model):
    delete_payload: DeletePayload


class ClearPayloadOperation(_Model):
    clear_payload: PointIdsList | FilterSelector


class PointVectors(_Model):
    id: ExtendedPointId
    vector: VectorStruct


class UpdateVectors(_Model):
    """``PUT /collections/{name}/points/vectors``: replace some vectors of existing points."""

    points: list[PointVectors]
    shard_key: Any | None = None
    update_filter: Filter | None = None


class DeleteVectors(_Model):
    """``POST /collections/{name}/points/vectors/delete``: remove named vectors."""

    points: list[ExtendedPointId] | None = None
    filter: Filter | str | None = None
    vector: list[str]
    shard_key: Any | None = None


class UpdateVectorsOperation(_Model):
    update_vectors: UpdateVectors


class DeleteVectorsOperation(_Model):
    delete_vectors: DeleteVectors


UpdateOperation = Union[
    UpsertOperation,
    DeleteOperation,
    SetPayloadOperation,
    OverwritePayloadOperation,
    DeletePayloadOperation,
    ClearPayloadOperation,
    UpdateVectorsOperation,
    DeleteVectorsOperation,
]


BATCH_OPERATIONS = (
    "upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
    "update_vectors", "delete_vectors",
)  # fmt: skip


class UpdateOperations(_Model):
    """``POST /collections/{name}/points/batch``: several updates in one request."""

    operations: list[UpdateOperation]

    @model_validator(mode="before")
    @classmethod
    def _one_known_operation_each(cls, data: Any) -> Any:
        # Said here, before the union is tried: pydantic would report every member's error.
        ops = data.get("operations") if isinstance(data, dict) else None
        for i, op in enumerate(ops if isinstance(ops, list) else []):
            if isinstance(op, dict) and (len(op) != 1 or next(iter(op)) not in BATCH_OPERATIONS):
                raise ValueError(
                    f"operations[{i}] must have exactly one of {', '.join(BATCH_OPERATIONS)}"
                    f", got {sorted(op)}"
                )
        return data


class CreateFieldIndex(_Model):
    field_name: str
    field_schema: PayloadSchemaType | dict[str, Any] | None = None


# Forward references: Filter is used above its definition.
for _model in (PointsList, PointsBatch, Nested, MinShould, Filter, FieldCondition):
    _model.model_rebuild()


# Aliases and snapshots, formula expressions, facets and the distance matrix: in their own
# modules, names here.
from shoal.models.explore import *  # noqa: E402, F403
from shoal.models.formula import *  # noqa: E402, F403
from shoal.models.manage import *  # noqa: E402, F403


def float_rows(rows: Sequence[Sequence[Any]], size: int) -> np.ndarray:
    """Deprecated: moved out of the wire schema to ``shoal.codec.float_rows``.

    A function rather than a module ``__getattr__``, which would let every misspelt
    ``shoal.models`` name pass the type checker.
    """
    warnings.warn(
        "shoal.models.float_rows is deprecated; use shoal.codec.float_rows",
        DeprecationWarning,
        stacklevel=2,
    )
    from shoal.codec import float_rows as moved

    return moved(rows, size)
