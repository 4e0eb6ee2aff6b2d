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
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
    model_validator,
)

# A point id: an unsigned 64-bit integer or a UUID string. Range and format are checked by
# the engine (shoal.engine.ids) so that the error names the offending id.
ExtendedPointId = Union[StrictInt, StrictStr]
Payload = dict[str, Any]


class _Model(BaseModel):
    # Unknown fields are an error: a typo such as `paylaod=` must not be silently dropped.
    # A NaN or an infinity is written as JavaScript's NaN / Infinity, not as null: JSON has
    # no spelling for them, and null would turn a bad vector into another error (or a NaN
    # payload value into a null); `shoal serve` reads these tokens so that the engine
    # refuses them with the error embedded mode gives (server/wire.py, parse_json).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, ser_json_inf_nan="constants")


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
    out = []
    for fields in values:
        obj = new(cls)
        setattr_(obj, "__dict__", fields)
        setattr_(obj, "__pydantic_fields_set__", set(fields) if given is None else given)
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        out.append(obj)
    return out


class _Response(BaseModel):
    # Responses from a newer server may carry fields this version does not know.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------------------- enums


class Distance(str, Enum):
    COSINE = "Cosine"
    EUCLID = "Euclid"
    DOT = "Dot"
    MANHATTAN = "Manhattan"


class Datatype(str, Enum):
    FLOAT32 = "float32"
    UINT8 = "uint8"
    FLOAT16 = "float16"
    TURBO4 = "turbo4"


class PayloadSchemaType(str, Enum):
    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    GEO = "geo"
    TEXT = "text"
    BOOL = "bool"
    DATETIME = "datetime"
    UUID = "uuid"


class UpdateStatus(str, Enum):
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    WAIT_TIMEOUT = "wait_timeout"


class CollectionStatus(str, Enum):
    GREEN = "green"
    YELLOW = "yellow"
    GREY = "grey"
    RED = "red"


class Direction(str, Enum):
    ASC = "asc"
    DESC = "desc"


class UpdateMode(str, Enum):
    UPSERT = "upsert"
    INSERT_ONLY = "insert_only"
    UPDATE_ONLY = "update_only"


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


class VectorParams(_Model):
    size: int
    distance: Distance
    hnsw_config: HnswConfigDiff | None = None
    quantization_config: dict[str, Any] | None = None
    on_disk: bool | None = None
    memory: str | None = None
    datatype: Datatype | None = None
    multivector_config: dict[str, Any] | None = None


VectorsConfig = Union[VectorParams, dict[str, VectorParams]]


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
    sparse_vectors: dict[str, Any] | None = None
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
VectorStruct = Union[Vector, dict[str, Vector]]
BatchVectorStruct = Union[list[Vector], dict[str, list[Vector]]]


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


# ---------------------------------------------------------------------------- filters

ValueVariants = Union[StrictBool, StrictInt, StrictStr]
AnyVariants = Union[list[StrictStr], list[StrictInt]]


class MatchValue(_Model):
    value: ValueVariants


class MatchText(_Model):
    text: str


class MatchTextAny(_Model):
    text_any: str


class MatchPhrase(_Model):
    phrase: str


class MatchAny(_Model):
    any: AnyVariants


class MatchExcept(_Model):
    except_: AnyVariants = Field(alias="except")


Match = Union[MatchValue, MatchText, MatchTextAny, MatchPhrase, MatchAny, MatchExcept]


class Range(_Model):
    lt: float | None = None
    gt: float | None = None
    gte: float | None = None
    lte: float | None = None


class DatetimeRange(_Model):
    lt: datetime | None = None
    gt: datetime | None = None
    gte: datetime | None = None
    lte: datetime | None = None


class ValuesCount(_Model):
    lt: int | None = None
    gt: int | None = None
    gte: int | None = None
    lte: int | None = None


# Geo shapes: their ranges and rings are checked by shoal.filters.geo, naming the value.
class GeoPoint(_Model):
    lon: StrictFloat
    lat: StrictFloat


class GeoRadius(_Model):
    center: GeoPoint
    radius: StrictFloat


class GeoBoundingBox(_Model):
    top_left: GeoPoint
    bottom_right: GeoPoint


class GeoLineString(_Model):
    points: list[GeoPoint]


class GeoPolygon(_Model):
    exterior: GeoLineString
    interiors: list[GeoLineString] | None = None


class FieldCondition(_Model):
    key: str
    match: Match | None = None
    range: Range | DatetimeRange | None = None
    values_count: ValuesCount | None = None
    is_empty: bool | None = None
    is_null: bool | None = None
    geo_bounding_box: GeoBoundingBox | None = None
    geo_radius: GeoRadius | None = None
    geo_polygon: GeoPolygon | None = None


class PayloadField(_Model):
    key: str


class IsEmptyCondition(_Model):
    is_empty: PayloadField


class IsNullCondition(_Model):
    is_null: PayloadField


class HasIdCondition(_Model):
    has_id: list[ExtendedPointId]


class HasVectorCondition(_Model):
    has_vector: str


class Nested(_Model):
    key: str
    filter: Filter


class NestedCondition(_Model):
    nested: Nested


class MinShould(_Model):
    conditions: list[Condition]
    min_count: int


Condition = Union[
    FieldCondition,
    IsEmptyCondition,
    IsNullCondition,
    HasIdCondition,
    HasVectorCondition,
    NestedCondition,
    "Filter",
]


class Filter(_Model):
    should: list[Condition] | Condition | None = None
    min_should: MinShould | None = None
    must: list[Condition] | Condition | None = None
    must_not: list[Condition] | Condition | None = None


# A filter wherever one is accepted: structured, or a Milvus-style expression string.
FilterLike = Union[Filter, str]


class PointIdsList(_Model):
    points: list[ExtendedPointId]
    shard_key: Any | None = None


class FilterSelector(_Model):
    filter: Filter | str
    shard_key: Any | None = None


PointsSelector = Union[PointIdsList, FilterSelector]


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


class SearchParams(_Model):
    hnsw_ef: int | None = None
    exact: bool | None = False
    quantization: QuantizationSearchParams | None = None
    indexed_only: bool | None = False
    acorn: dict[str, Any] | None = None
    idf: Any | None = None


class OrderBy(_Model):
    key: str
    direction: Direction | None = None
    start_from: float | int | datetime | None = None


# Vector inputs besides dense vectors and point ids, and the query kinds besides ``nearest``:
# parsed so that a valid Qdrant query is understood, and refused by the engine, naming the
# kind, until Shoal runs it (``shoal.engine.support``). Their bodies stay plain JSON.


class SparseVector(_Model):
    indices: list[StrictInt]
    values: list[StrictFloat]


class Document(_Model):
    text: str
    model: str
    options: dict[str, Any] | None = None


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


class QueryRequest(_Model):
    shard_key: Any | None = None
    prefetch: Any | None = None
    query: QueryInterface | None = None
    using: str | None = None
    filter: Filter | str | None = None
    params: SearchParams | None = None
    score_threshold: float | None = None
    limit: int | None = None
    offset: int | None = None
    with_vector: WithVectorInterface | None = None
    with_payload: WithPayloadInterface | None = None
    lookup_from: Any | None = None


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


UpdateOperation = Union[
    UpsertOperation,
    DeleteOperation,
    SetPayloadOperation,
    OverwritePayloadOperation,
    DeletePayloadOperation,
    ClearPayloadOperation,
]


BATCH_OPERATIONS = (
    "upsert", "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
)  # fmt: skip


class UpdateOperations(_Model):
    """``POST /collections/{name}/points/batch``: several updates in one request.

    Qdrant also has ``update_vectors`` and ``delete_vectors`` operations; Shoal serves
    neither, so a batch naming one is rejected as malformed."""

    operations: list[UpdateOperation]

    @model_validator(mode="before")
    @classmethod
    def _one_known_operation_each(cls, data: Any) -> Any:
        # Said here, before the union is tried: pydantic would report every member's error.
        ops = data.get("operations") if isinstance(data, dict) else None
        for i, op in enumerate(ops if isinstance(ops, list) else []):
            if isinstance(op, dict) and (len(op) != 1 or next(iter(op)) not in BATCH_OPERATIONS):
                names = sorted(op)
                unserved = names in (["update_vectors"], ["delete_vectors"])
                raise ValueError(
                    f"operations[{i}] must have exactly one of {', '.join(BATCH_OPERATIONS)}"
                    + (f"; Shoal does not serve {names[0]}" if unserved else f", got {names}")
                )
        return data


class CreateFieldIndex(_Model):
    field_name: str
    field_schema: PayloadSchemaType | dict[str, Any] | None = None


class CreateAlias(_Model):
    collection_name: str
    alias_name: str


class DeleteAlias(_Model):
    alias_name: str


class RenameAlias(_Model):
    old_alias_name: str
    new_alias_name: str


class CreateAliasOperation(_Model):
    create_alias: CreateAlias


class DeleteAliasOperation(_Model):
    delete_alias: DeleteAlias


class RenameAliasOperation(_Model):
    rename_alias: RenameAlias


AliasOperations = Union[CreateAliasOperation, DeleteAliasOperation, RenameAliasOperation]


class ChangeAliasesOperation(_Model):
    actions: list[AliasOperations]


class AliasDescription(_Model):
    alias_name: str
    collection_name: str


class CollectionsAliasesResponse(_Model):
    aliases: list[AliasDescription]


class SnapshotDescription(_Model):
    name: str
    creation_time: str | None = None
    size: int
    checksum: str | None = None


SnapshotPriority = Literal["no_sync", "snapshot", "replica"]


class SnapshotRecover(_Model):
    location: str
    priority: SnapshotPriority | None = None
    checksum: str | None = None
    api_key: str | None = None


# Forward references: Filter is used above its definition.
for _model in (PointsList, PointsBatch, Nested, MinShould, Filter, FieldCondition):
    _model.model_rebuild()


# ---------------------------------------------------------------------------- formulas

# The expressions of a FormulaQuery (Qdrant's ``Expression``). A JSON object is told by its
# key; shoal.filters.formula compiles them. Max, min and acosh are qdrant-client 1.20's.


class GeoDistanceParams(_Model):
    origin: GeoPoint
    to: str


class GeoDistance(_Model):
    geo_distance: GeoDistanceParams


class DatetimeExpression(_Model):
    datetime: str


class DatetimeKeyExpression(_Model):
    datetime_key: str


class MultExpression(_Model):
    mult: list[Expression]


class SumExpression(_Model):
    sum: list[Expression]


class MaxExpression(_Model):
    max: list[Expression]


class MinExpression(_Model):
    min: list[Expression]


class NegExpression(_Model):
    neg: Expression


class AbsExpression(_Model):
    abs: Expression


class DivParams(_Model):
    left: Expression
    right: Expression
    by_zero_default: StrictFloat | None = None


class DivExpression(_Model):
    div: DivParams


class SqrtExpression(_Model):
    sqrt: Expression


class PowParams(_Model):
    base: Expression
    exponent: Expression


class PowExpression(_Model):
    pow: PowParams


class ExpExpression(_Model):
    exp: Expression


class Log10Expression(_Model):
    log10: Expression


class LnExpression(_Model):
    ln: Expression


class AcoshExpression(_Model):
    acosh: Expression


class DecayParamsExpression(_Model):
    x: Expression
    target: Expression | None = None
    scale: StrictFloat | None = None
    midpoint: StrictFloat | None = None


class LinDecayExpression(_Model):
    lin_decay: DecayParamsExpression


class ExpDecayExpression(_Model):
    exp_decay: DecayParamsExpression


class GaussDecayExpression(_Model):
    gauss_decay: DecayParamsExpression


# Each expression model has one field, named by its key in JSON.
_EXPRESSION_MODELS: tuple[type[_Model], ...] = (
    GeoDistance, DatetimeExpression, DatetimeKeyExpression, MultExpression, SumExpression,
    MaxExpression, MinExpression, NegExpression, AbsExpression, DivExpression, SqrtExpression,
    PowExpression, ExpExpression, Log10Expression, LnExpression, AcoshExpression,
    LinDecayExpression, ExpDecayExpression, GaussDecayExpression,
)  # fmt: skip
_EXPRESSION_KEYS: dict[type[BaseModel], str] = {
    model: next(iter(model.model_fields)) for model in _EXPRESSION_MODELS
}
# A JSON condition has one of these keys, or only a filter's keys ({} is the empty filter).
_CONDITION_KEYS = frozenset({"key", "has_id", "nested", "is_empty", "is_null", "has_vector"})
_FILTER_KEYS = frozenset({"must", "should", "must_not", "min_should"})


def _expression_kind(value: Any) -> str | None:
    # Chosen by type and key, so that an error points into the expression that was meant.
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return "constant"
    if isinstance(value, str):
        return "variable"
    if isinstance(value, dict):
        kind = next((k for k in value if k in _EXPRESSION_KEYS.values()), None)
        if kind is None and (_CONDITION_KEYS.intersection(value) or set(value) <= _FILTER_KEYS):
            kind = "condition"
        return kind
    if isinstance(value, BaseModel):
        return _EXPRESSION_KEYS.get(type(value), "condition")
    return None


# ``Condition`` with its forward reference to ``Filter`` resolved: a TypeAdapter made in
# another module resolves names there, where ``Filter`` is not defined.
_ResolvedCondition = Union[
    FieldCondition,
    IsEmptyCondition,
    IsNullCondition,
    HasIdCondition,
    HasVectorCondition,
    NestedCondition,
    Filter,
]

Expression = Annotated[
    Union[
        Annotated[StrictFloat, Tag("constant")],
        Annotated[StrictStr, Tag("variable")],
        Annotated[_ResolvedCondition, Tag("condition")],
        Annotated[GeoDistance, Tag("geo_distance")],
        Annotated[DatetimeExpression, Tag("datetime")],
        Annotated[DatetimeKeyExpression, Tag("datetime_key")],
        Annotated[MultExpression, Tag("mult")],
        Annotated[SumExpression, Tag("sum")],
        Annotated[MaxExpression, Tag("max")],
        Annotated[MinExpression, Tag("min")],
        Annotated[NegExpression, Tag("neg")],
        Annotated[AbsExpression, Tag("abs")],
        Annotated[DivExpression, Tag("div")],
        Annotated[SqrtExpression, Tag("sqrt")],
        Annotated[PowExpression, Tag("pow")],
        Annotated[ExpExpression, Tag("exp")],
        Annotated[Log10Expression, Tag("log10")],
        Annotated[LnExpression, Tag("ln")],
        Annotated[AcoshExpression, Tag("acosh")],
        Annotated[LinDecayExpression, Tag("lin_decay")],
        Annotated[ExpDecayExpression, Tag("exp_decay")],
        Annotated[GaussDecayExpression, Tag("gauss_decay")],
    ],
    Discriminator(
        _expression_kind,
        custom_error_type="expression_kind",
        custom_error_message="expected a number, a variable name ('$score', '$score[1]' or a "
        "payload key), a condition, or an expression object such as {'mult': [...]}",
    ),
]

_RECURSIVE: tuple[type[_Model], ...] = (DivParams, PowParams, DecayParamsExpression)
for _expression_model in _EXPRESSION_MODELS + _RECURSIVE:
    _expression_model.model_rebuild()


def __getattr__(name: str) -> Any:
    # Deprecated aliases: names that moved out of the wire schema.
    if name == "float_rows":
        warnings.warn(
            "shoal.models.float_rows is deprecated; use shoal.codec.float_rows",
            DeprecationWarning,
            stacklevel=2,
        )
        from shoal.codec import float_rows

        return float_rows
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
