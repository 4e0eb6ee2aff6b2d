"""What Shoal honours of Qdrant's request settings, and the one check that refuses the rest.

Every field of Qdrant's request models parses (``shoal.models`` keeps them all), so a valid
Qdrant request never gets a bare validation error; this module then decides, field by field:

* ``HONOURED``: Shoal does what the setting asks (and shows it in ``get_collection``, or in
  the results);
* ``Only(...)``: accepted with these values only: Qdrant's defaults, or what Shoal does
  anyway (``on_disk=false``: everything is in memory), so sending them changes nothing;
  any other value is refused;
* anything else, including a whole object Shoal has no counterpart for, is refused with
  ``NotSupported`` naming the field as it appears in the request (``hnsw_config.on_disk``).

The rules are keyed by the names of Qdrant's OpenAPI schemas, so that the test that walks
the spec (``tests/server/test_settings_walk.py``) reads them side by side with it, and
``tools/settings_doc.py`` writes them into docs/compatibility.md. The engine calls
``check_collection`` when a collection is created, ``check_query`` for every query,
``check_upsert`` and ``check_shard_key`` for every write and ``field_index_type`` for every
payload index; the clients check a payload index's type with ``schema_type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union

import numpy as np
from pydantic import BaseModel

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidQuery, NotSupported, shown


@dataclass(frozen=True)
class Only:
    """A setting accepted with these values only (none: always refused); ``why`` (if any)
    and the accepted values end the refusal's message."""

    values: tuple[Any, ...]
    why: str


@dataclass(frozen=True)
class Walk:
    """An object of a Qdrant schema: its fields are checked by that schema's rules."""

    schema: str


@dataclass(frozen=True)
class OneOf:
    """An object with exactly one key naming its variant (Qdrant's quantization configs)."""

    variants: Mapping[str, Rule]


class _Honoured:
    def __repr__(self) -> str:
        return "HONOURED"


class _Vectors:
    """``VectorsConfig``: one ``VectorParams``, or a map of named ones."""


@dataclass(frozen=True)
class MapOf:
    """A map of names to objects of a Qdrant schema (``sparse_vectors``)."""

    schema: str


HONOURED = _Honoured()
VECTORS = _Vectors()
Rule = Union[_Honoured, _Vectors, Only, Walk, OneOf, MapOf]


def refused(why: str) -> Only:
    """A setting Shoal refuses whatever its value."""
    return Only((), why)


def default(*values: Any, why: str = "") -> Only:
    """A setting accepted only with ``values`` (Qdrant's default first)."""
    return Only(values, why)


RAM = "Shoal keeps it in memory"
ONE_NODE = "Shoal runs one shard on one node"
NO_PAYLOAD_HNSW = "Shoal builds no payload-aware HNSW links"
NO_PRINCIPAL = "Shoal has no principal-key storage"
NO_SIZES = "Shoal does not measure a collection's size in bytes"


INDEX_COMMON: dict[str, Rule] = {
    "type": HONOURED,
    "on_disk": default(False, why=RAM),
    "memory": default("pinned", why=RAM),  # Qdrant's default: in memory
    # Without payload links (payload_m is refused) both values build the same index.
    "enable_hnsw": default(True, False, why=NO_PAYLOAD_HNSW),
}


def _index_params(extra: Mapping[str, Rule]) -> dict[str, Rule]:
    # The fields every payload index type has, and its own.
    return {**INDEX_COMMON, **extra}


STRICT_MODE_LIMITS = (
    "max_query_limit", "max_timeout", "unindexed_filtering_retrieve",
    "unindexed_filtering_update", "search_max_hnsw_ef", "search_allow_exact",
    "search_max_oversampling", "upsert_max_batchsize", "search_max_batchsize",
    "read_rate_limit", "write_rate_limit", "max_points_count", "filter_max_conditions",
    "condition_max_size", "max_payload_index_count",
)  # fmt: skip

# Qdrant's QuantizationConfig: one of these, named by its key ("shoal" is Shoal's own).
QUANTIZATION = OneOf(
    {
        "scalar": Walk("ScalarQuantizationConfig"),
        "product": refused("Shoal's index has no product quantization"),
        "binary": refused("Shoal's index has no binary quantization"),
        "turbo": refused("Shoal's index has no turbo quantization"),
        "shoal": Walk("ShoalQuantization"),
    }
)

RULES: dict[str, dict[str, Rule]] = {
    "CreateCollection": {
        "vectors": VECTORS,
        "shard_number": default(1, why=ONE_NODE),
        "sharding_method": default("auto", why=ONE_NODE),
        "replication_factor": default(1, why=ONE_NODE),
        "write_consistency_factor": default(1, why=ONE_NODE),
        # Shown in get_collection as given: false is what Shoal does, true (Qdrant's
        # default) is accepted as harmless.
        "on_disk_payload": default(True, False, why="payloads are in memory and in the store"),
        "payload": Walk("PayloadStorageParams"),
        "hnsw_config": Walk("HnswConfigDiff"),
        "wal_config": Walk("WalConfigDiff"),
        "optimizers_config": Walk("OptimizersConfigDiff"),
        "quantization_config": QUANTIZATION,
        "sparse_vectors": MapOf("SparseVectorParams"),
        "strict_mode_config": Walk("StrictModeConfig"),
        "metadata": HONOURED,
    },
    "SparseVectorParams": {
        "index": Walk("SparseIndexParams"),
        "modifier": HONOURED,  # none, or idf (shoal.index.sparse)
    },
    "SparseIndexParams": {
        # Below it Qdrant scans the vectors instead of reading its inverted index: both are
        # exact, so the answers are the same; Shoal always reads its inverted index.
        "full_scan_threshold": HONOURED,
        "on_disk": default(False, why=RAM),
        "memory": default("pinned", why=RAM),  # Qdrant's default: in memory
        "datatype": default("float32", why="Shoal stores sparse values as float32"),
    },
    "VectorParams": {
        "size": HONOURED,
        "distance": HONOURED,
        "hnsw_config": Walk("HnswConfigDiff"),
        "quantization_config": QUANTIZATION,
        "on_disk": default(False, why=RAM),
        "memory": default("cached", why=RAM),
        "datatype": default("float32", why="Shoal stores vectors as float32"),
        "multivector_config": Walk("MultiVectorConfig"),
    },
    "MultiVectorConfig": {
        # Qdrant's only comparator (shoal.index.multivector scores by it).
        "comparator": default("max_sim", why="Shoal compares multivectors by MaxSim"),
    },
    "PayloadStorageParams": {
        # cold is Qdrant's default, cached what Shoal does; shown in get_collection.
        "memory": default("cold", "cached", why="payloads are in memory and in the store"),
    },
    "HnswConfigDiff": {
        "m": HONOURED,
        "ef_construct": HONOURED,
        "full_scan_threshold": HONOURED,
        "max_indexing_threads": HONOURED,
        "on_disk": default(False, why=RAM),
        "memory": default("cached", why=RAM),
        "payload_m": refused(NO_PAYLOAD_HNSW),
        "inline_storage": default(False, why="Shoal's index keeps no copies of the vectors"),
    },
    "WalConfigDiff": {
        # SQLite's write-ahead log has no such knobs.
        "wal_capacity_mb": default(32, why="Shoal's store is SQLite; it has no Qdrant WAL"),
        "wal_segments_ahead": default(0, why="Shoal's store is SQLite; it has no Qdrant WAL"),
        "wal_retain_closed": default(1, why="Shoal's store is SQLite; it has no Qdrant WAL"),
    },
    "OptimizersConfigDiff": {
        # Shoal has no segments to optimise: one in-memory set of rows per collection.
        "deleted_threshold": default(0.2, why="Shoal has no segments to optimise"),
        "vacuum_min_vector_number": default(1000, why="Shoal has no segments to optimise"),
        "default_segment_number": default(0, why="Shoal has no segments to optimise"),
        "max_segment_size": refused("Shoal has no segments to optimise"),
        "memmap_threshold": refused("Shoal keeps vectors in memory"),
        "indexing_threshold": HONOURED,
        "flush_interval_sec": default(5, why="every acknowledged write is already durable"),
        # At most one index build per collection runs at a time: any limit >= 1 is met;
        # 0 (no optimizations) builds no index, as Qdrant (shoal.engine.ann_settings).
        "max_optimization_threads": HONOURED,
        "prevent_unoptimized": default(False, why="Shoal has no segments to optimise"),
    },
    "ScalarQuantizationConfig": {
        "type": HONOURED,  # int8, the only type; the index stores int8 codes
        "quantile": HONOURED,  # clips the int8 range at this quantile of each dimension
        # The int8 index is always in memory, so true is what Shoal does and false (follow
        # the vectors, which are in memory too) changes nothing.
        "always_ram": default(False, True, why=RAM),
        "memory": default("cached", why=RAM),
    },
    "ShoalQuantization": {
        "index_dtype": HONOURED,  # Shoal's own: the HNSW index's storage type
    },
    # Checked by shoal.engine.strict (the values' types too).
    "StrictModeConfig": {
        "enabled": HONOURED,
        **{name: HONOURED for name in STRICT_MODE_LIMITS},
        "max_collection_vector_size_bytes": refused(NO_SIZES),
        "max_collection_payload_size_bytes": refused(NO_SIZES),
        "multivector_config": refused("Shoal has no per-vector multivector limits"),
        "sparse_config": refused("Shoal has no per-vector sparse limits"),
        "max_resident_memory_percent": refused("Shoal does not measure its memory"),
    },
    "SearchParams": {
        "hnsw_ef": HONOURED,
        "exact": HONOURED,
        "quantization": Walk("QuantizationSearchParams"),
        "indexed_only": default(False, why="Shoal always searches every committed point"),
        "acorn": Walk("AcornSearchParams"),
        "idf": HONOURED,  # "global", or IdfCorpusParams (shoal.index.sparse)
    },
    "QuantizationSearchParams": {
        "ignore": default(False, why="the quantized index is always used when searched"),
        "rescore": default(True, why="Shoal always rescores with the original vectors"),
        "oversampling": HONOURED,
    },
    "AcornSearchParams": {
        "enable": default(False, why="Shoal has no ACORN filtered search"),
        "max_selectivity": refused("Shoal has no ACORN filtered search"),
    },
    "NearestQuery": {
        "nearest": HONOURED,
        "mmr": HONOURED,  # shoal.engine.mmr
    },
    "PointsList": {
        "points": HONOURED,
        "shard_key": refused(ONE_NODE),
        "update_filter": HONOURED,  # an existing point is replaced only if it matches
        "update_mode": HONOURED,  # upsert, insert_only, update_only
    },
    "KeywordIndexParams": _index_params(
        {
            "is_tenant": default(False, why="Shoal has no tenant-optimised storage"),
            "prefix": default(False, why="Shoal has no prefix match"),
        }
    ),
    "IntegerIndexParams": _index_params(
        {
            "lookup": default(True, why="Shoal's integer index always serves both"),
            "range": default(True, why="Shoal's integer index always serves both"),
            "is_principal": default(False, why=NO_PRINCIPAL),
        }
    ),
    "FloatIndexParams": _index_params({"is_principal": default(False, why=NO_PRINCIPAL)}),
    "GeoIndexParams": _index_params({}),
    # Their values are read (and those Shoal cannot reproduce refused: stop words other
    # than English, the Armenian stemmer) by shoal.filters.text.text_index_params.
    "TextIndexParams": _index_params(
        {
            "tokenizer": default(
                "word", "whitespace", "prefix", why="Shoal has no multilingual tokenizer"
            ),
            "min_token_len": HONOURED,
            "max_token_len": HONOURED,
            "lowercase": HONOURED,
            "ascii_folding": default(False, why="Shoal does not fold text to ASCII"),
            "phrase_matching": HONOURED,
            "stopwords": HONOURED,
            "stemmer": HONOURED,
        }
    ),
    "BoolIndexParams": _index_params({}),
    "DatetimeIndexParams": _index_params({"is_principal": default(False, why=NO_PRINCIPAL)}),
    "UuidIndexParams": _index_params(
        {"is_tenant": default(False, why="Shoal has no tenant-optimised storage")}
    ),
}
RULES["PointsBatch"] = {**RULES["PointsList"], "batch": HONOURED}
del RULES["PointsBatch"]["points"]
INDEX_PARAMS = {
    "keyword": "KeywordIndexParams",
    "integer": "IntegerIndexParams",
    "float": "FloatIndexParams",
    "geo": "GeoIndexParams",
    "text": "TextIndexParams",
    "bool": "BoolIndexParams",
    "datetime": "DatetimeIndexParams",
    "uuid": "UuidIndexParams",
}

# Query kinds and vector inputs Shoal does not run yet. Each is refused here, and only here:
# implementing one is deleting its line and handling it in the query pipeline.
QUERY_KINDS_NOT_YET: dict[type, str] = {
    m.Image: "Image (inference)",
    m.InferenceObject: "InferenceObject (inference)",
}
# Query kinds that combine the results of prefetches (``shoal.engine.prefetch``).
_COMBINING: dict[type, str] = {
    m.FusionQuery: "fusion",
    m.RrfQuery: "rrf",
    m.FormulaQuery: "formula",
}

QUERY_FIELDS_NOT_YET = {
    "shard_key": ONE_NODE,
}


# Queries that need no check_query: a vector (or multivector), a point id, or none, with
# no search params, prefetch, lookup or shard key.
PLAIN_QUERY_TYPES = frozenset({list, np.ndarray, int, str, type(None)})
# Search params that need no walk when they are all a query sets (hnsw_ef, exact).
_SCHEMA_TYPES = frozenset(t.value for t in m.PayloadSchemaType)
_HONOURED_PARAMS = frozenset(k for k, rule in RULES["SearchParams"].items() if rule is HONOURED)

# ------------------------------------------------------------------------ checks


def check_collection(config: m.CreateCollection) -> None:
    """Refuse a collection configuration with a setting Shoal does not honour.

    Raises:
        NotSupported: naming the first such setting (``hnsw_config.on_disk=true ...``).
        InvalidConfig: a key that is no Qdrant setting inside a settings object.
    """
    _walk(config, "CreateCollection", "")


def check_upsert(body: m.PointsList | m.PointsBatch) -> None:
    """Refuse an upsert body (``PointsList`` / ``PointsBatch``) Shoal cannot apply as asked.

    Raises:
        NotSupported: ``shard_key``.
    """
    if body.shard_key is None and body.update_filter is None and body.update_mode is None:
        return
    _walk(body, "PointsBatch" if isinstance(body, m.PointsBatch) else "PointsList", "")


def check_shard_key(body: BaseModel) -> None:
    """Refuse a request body (scroll, count, retrieve, a payload update, a selector) that
    names a shard key: Shoal has one shard, and would otherwise read or write all of it.

    Raises:
        NotSupported: naming ``shard_key``.
    """
    if getattr(body, "shard_key", None) is not None:
        raise NotSupported(f"Wrong input: shard_key is not supported: {ONE_NODE}")


def check_query(req: m.QueryRequest) -> None:
    """Refuse a query kind, vector input or search setting Shoal does not run.

    Cheap for the plain query (a vector or a point id, no params): a few attribute tests.

    Raises:
        NotSupported: naming the query kind (``recommend``) or the field (``prefetch``).
    """
    # Tested field by field, not in a loop: this runs for every query (0.5 µs).
    if req.shard_key is not None:
        name = next(n for n in QUERY_FIELDS_NOT_YET if getattr(req, n) is not None)
        raise NotSupported(f"Wrong input: {name} is not supported: {QUERY_FIELDS_NOT_YET[name]}")
    query = req.query
    if type(query) is m.NearestQuery:
        if query.mmr is not None:
            _walk(query, "NearestQuery", "query")
        query = query.nearest
    if type(query) in _COMBINING and not req.prefetch:
        raise InvalidQuery(
            f"Wrong input: a {_COMBINING[type(query)]} query combines the results of "
            "prefetches: give prefetch"
        )
    kind = QUERY_KINDS_NOT_YET.get(type(query))  # the models of every other kind
    if kind is not None:
        raise NotSupported(f"Wrong input: query kind `{kind}` is not supported yet")
    params = req.params
    if params is not None and not params.__pydantic_fields_set__ <= _HONOURED_PARAMS:
        _walk(params, "SearchParams", "params")


def schema_type(kind: Any) -> m.PayloadSchemaType:
    """A payload index type by its name: the one place a ``field_schema``'s type is read
    (the clients check it with this before sending, ``field_index_type`` here).

    Args:
        kind: the name ("keyword", "integer", ...).

    Returns:
        The type.

    Raises:
        InvalidConfig: an unknown type.
    """
    if isinstance(kind, str) and kind in _SCHEMA_TYPES:
        return m.PayloadSchemaType(kind)
    allowed = ", ".join(t.value for t in m.PayloadSchemaType)
    raise InvalidConfig(f"Wrong input: field_schema type {shown(kind)} is not one of {allowed}")


def field_index_type(schema: m.PayloadSchemaType | Mapping[str, Any] | None) -> m.PayloadSchemaType:
    """The payload index type a ``field_schema`` asks for, refusing parameters Shoal does
    not honour (``is_tenant``, ``on_disk``, tokenizer settings ...).

    Args:
        schema: a type name, Qdrant's ``*IndexParams`` object, or None (keyword).

    Returns:
        The index type.

    Raises:
        InvalidConfig: an unknown type.
        NotSupported: naming the first parameter Shoal does not honour.
    """
    if schema is None:
        return m.PayloadSchemaType.KEYWORD
    if isinstance(schema, m.PayloadSchemaType):
        return schema
    result = schema_type(schema.get("type"))
    _walk(schema, INDEX_PARAMS[result.value], "field_schema")
    return result


# ----------------------------------------------------------------------- walking


def _walk(value: Any, schema: str, path: str) -> None:
    """Check each set field of ``value`` (a model or a JSON object) by ``schema``'s rules."""
    rules = RULES[schema]
    for name, item in _fields(value, path):
        rule = rules.get(name)
        where = f"{path}.{name}" if path else name
        if rule is None:
            raise InvalidConfig(
                f"Wrong input: unknown setting {where}; expected one of {sorted(rules)}"
            )
        _apply(rule, item, where)


def _apply(rule: Rule, value: Any, where: str) -> None:
    if isinstance(rule, Only):
        if not any(_same(value, v) for v in rule.values):
            accepted = " or ".join(_json(v) for v in rule.values)
            raise NotSupported(
                f"Wrong input: {where}={_json(value)} is not supported"
                + (f": {rule.why}" if rule.why else "")
                + (f" (accepted: {accepted})" if accepted else "")
            )
    elif isinstance(rule, Walk):
        _walk(value, rule.schema, where)
    elif isinstance(rule, OneOf):
        items = list(_fields(value, where))
        if len(items) != 1 or items[0][0] not in rule.variants:
            raise InvalidConfig(
                f"Wrong input: {where} must have exactly one of {sorted(rule.variants)}, "
                f"got {_json(value)}"
            )
        ((name, item),) = items
        _apply(rule.variants[name], item, f"{where}.{name}")
    elif isinstance(rule, _Vectors):
        if isinstance(value, m.VectorParams):
            _walk(value, "VectorParams", where)
        else:
            for name, params in value.items():
                _walk(params, "VectorParams", f"{where}.{name}")
    elif isinstance(rule, MapOf):
        for name, params in _fields(value, where):
            _walk(params, rule.schema, f"{where}.{name}")


def _fields(value: Any, path: str) -> list[tuple[str, Any]]:
    """The set (not None) fields of a model or a JSON object."""
    if isinstance(value, BaseModel):
        return [item for item in value.__dict__.items() if item[1] is not None]
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items() if v is not None]
    raise InvalidConfig(f"Wrong input: {path or 'body'} must be an object, got {_json(value)}")


def _same(value: Any, accepted: Any) -> bool:
    # True == 1 in Python: a bool only matches a bool.
    if isinstance(value, Enum):
        value = value.value
    return isinstance(value, bool) == isinstance(accepted, bool) and value == accepted


def _json(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True, by_alias=True)
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
