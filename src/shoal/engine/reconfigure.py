"""``update_collection``: a collection's configuration with Qdrant's diff applied.

The result goes through the same checks as a new collection's (``shoal.engine.support``
refuses what Shoal does not honour), so a change is honoured or refused exactly as the same
setting given at creation would be. Qdrant's merge rules: a settings object
(``optimizers_config``, ``hnsw_config``, a vector's ``hnsw_config``) is merged key by key;
``quantization_config`` is replaced (``"Disabled"`` removes it); ``metadata`` is merged
key by key, and an empty object clears it. A sparse vector's ``index`` is merged key by key
and its ``modifier`` replaced.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shoal import models as m
from shoal.engine.ann_settings import AnnSettings, resolve_settings
from shoal.errors import InvalidConfig, NotSupported

# CollectionParamsDiff -> the CreateCollection field it changes.
_PARAMS = {
    "replication_factor": "replication_factor",
    "write_consistency_factor": "write_consistency_factor",
    "on_disk_payload": "on_disk_payload",
}


def updated_config(old: m.CreateCollection, diff: m.UpdateCollection) -> m.CreateCollection:
    """The configuration ``old`` becomes with ``diff`` applied (not checked yet).

    Raises:
        InvalidConfig: a vector name the collection does not have, an unknown key, or a
            value of the wrong kind.
        NotSupported: a ``params`` change one node cannot make (``read_fan_out_factor``).
    """
    new = old.model_dump(exclude_none=True, by_alias=True)
    if diff.sparse_vectors:
        new["sparse_vectors"] = _sparse(old.sparse_vectors, diff.sparse_vectors)
    for key, value in (diff.params or {}).items():
        if key not in _PARAMS:
            raise NotSupported(f"Wrong input: params.{key} is not supported: one node")
        new[_PARAMS[key]] = value
    if diff.optimizers_config is not None:
        new["optimizers_config"] = {**(old.optimizers_config or {}), **diff.optimizers_config}
    if diff.hnsw_config is not None:
        new["hnsw_config"] = _merged_hnsw(old.hnsw_config, diff.hnsw_config)
    if diff.quantization_config is not None:
        new["quantization_config"] = _quantization(diff.quantization_config)
    if diff.strict_mode_config is not None:
        new["strict_mode_config"] = {**(old.strict_mode_config or {}), **diff.strict_mode_config}
    if diff.metadata is not None:
        new["metadata"] = {**(old.metadata or {}), **diff.metadata} if diff.metadata else None
    if diff.vectors:
        new["vectors"] = _vectors(old.vectors, diff.vectors)
    try:
        return m.CreateCollection.model_validate({k: v for k, v in new.items() if v is not None})
    except ValidationError as exc:  # a value of a diff given as a plain object
        first = exc.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        raise InvalidConfig(f"Wrong input: {where}: {first['msg']}") from None


def index_settings(config: m.CreateCollection) -> dict[str, AnnSettings]:
    """The resolved index settings of every vector (a change means a rebuild)."""
    vectors = config.vectors
    items = vectors.items() if isinstance(vectors, dict) else [("", vectors)]
    return {name: resolve_settings(config, params) for name, params in items if params}


def _merged_hnsw(old: m.HnswConfigDiff | None, diff: m.HnswConfigDiff) -> dict[str, Any]:
    base = old.model_dump(exclude_none=True) if old is not None else {}
    return {**base, **diff.model_dump(exclude_none=True)}


def _quantization(value: dict[str, Any] | str) -> dict[str, Any] | None:
    if value == "Disabled":
        return None
    if isinstance(value, str):
        raise InvalidConfig(
            f"Wrong input: quantization_config {value!r}; expected a configuration or 'Disabled'"
        )
    return value


def _sparse(old: dict[str, m.SparseVectorParams] | None, diffs: dict[str, Any]) -> dict[str, Any]:
    out = {name: p.model_dump(exclude_none=True, by_alias=True) for name, p in (old or {}).items()}
    for name, diff in diffs.items():
        if name not in out:
            raise InvalidConfig(f"Wrong input: Not existing vector name error: {name}")
        if not isinstance(diff, dict):
            raise InvalidConfig(f"Wrong input: sparse_vectors.{name} must be an object")
        unknown = set(diff) - {"index", "modifier"}
        if unknown:
            raise InvalidConfig(
                f"Wrong input: unknown sparse vector setting {sorted(unknown)[0]!r}"
            )
        current = out[name]
        index = diff.get("index")
        if index is not None:
            if not isinstance(index, dict):
                raise InvalidConfig(f"Wrong input: sparse_vectors.{name}.index must be an object")
            current["index"] = {**current.get("index", {}), **index}
        if diff.get("modifier") is not None:
            current["modifier"] = diff["modifier"]
    return out


def _vectors(old: m.VectorsConfig | None, diffs: dict[str, dict[str, Any]]) -> dict[str, Any] | Any:
    named = isinstance(old, dict)
    params = dict(old) if isinstance(old, dict) else {"": old}
    out = {name: p.model_dump(exclude_none=True, by_alias=True) for name, p in params.items() if p}
    for name, diff in diffs.items():
        if name not in out:
            raise InvalidConfig(f"Wrong input: Not existing vector name error: {name}")
        unknown = set(diff) - {"hnsw_config", "quantization_config", "on_disk"}
        if unknown:
            raise InvalidConfig(f"Wrong input: unknown vector setting {sorted(unknown)[0]!r}")
        current = out[name]
        if diff.get("hnsw_config") is not None:
            current["hnsw_config"] = {**current.get("hnsw_config", {}), **diff["hnsw_config"]}
        if diff.get("quantization_config") is not None:
            current["quantization_config"] = _quantization(diff["quantization_config"])
        if diff.get("on_disk") is not None:
            current["on_disk"] = diff["on_disk"]
    return out if named else out[""]
