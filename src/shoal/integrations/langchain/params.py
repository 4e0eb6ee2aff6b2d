"""langchain-milvus's ``index_params`` / ``search_params`` / search kwargs, read for Shoal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal import models as m
from shoal.errors import InvalidConfig

# Search kwargs a langchain-milvus caller may pass that mean nothing to an in-process
# engine with strong consistency; accepted so existing calls keep working.
IGNORED_SEARCH_KWARGS = frozenset(
    {
        "partition_names",
        "round_decimal",
        "consistency_level",
        "guarantee_timestamp",
        "graceful_time",
        "travel_timestamp",
    }
)


def _int_param(params: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        if params.get(name) is not None:
            value = params[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidConfig(f"index parameter {name}={value!r} must be an integer >= 0")
            return value
    return None


def hnsw_config(index_params: Mapping[str, Any] | None) -> m.HnswConfigDiff | None:
    """HNSW settings from Milvus-style index parameters.

    Args:
        index_params: ``{"index_type": "HNSW", "metric_type": "COSINE",
            "params": {"M": 16, "efConstruction": 200}}``. ``index_type="FLAT"`` asks for
            exact search only (no graph). Other index types (IVF_*, DISKANN...) get
            Shoal's HNSW with default settings.

    Returns:
        An ``HnswConfigDiff``, or None for Shoal's defaults.

    Raises:
        InvalidConfig: a parameter is not a non-negative integer.
    """
    if not index_params:
        return None
    if not isinstance(index_params, Mapping):
        raise InvalidConfig(f"index_params must be a dict, got {type(index_params).__name__}")
    if str(index_params.get("index_type", "")).upper() == "FLAT":
        # m=0 builds no graph: every search is exact, as with Milvus's FLAT index.
        return m.HnswConfigDiff(m=0)
    params = index_params.get("params") or {}
    graph_m = _int_param(params, "M", "m")
    ef = _int_param(params, "efConstruction", "ef_construct", "ef_construction")
    if graph_m is None and ef is None:
        return None
    return m.HnswConfigDiff(m=graph_m, ef_construct=ef)


def search_params(param: Mapping[str, Any] | m.SearchParams | None) -> m.SearchParams | None:
    """Shoal search parameters from a Milvus-style search ``param``.

    Args:
        param: ``{"metric_type": ..., "params": {"ef": 64}}`` (``ef`` becomes
            ``hnsw_ef``; IVF's ``nprobe`` and the like have no meaning here and are
            ignored), or a ``SearchParams``.

    Returns:
        ``SearchParams`` or None.

    Raises:
        InvalidConfig: ``ef`` is not a non-negative integer.
    """
    if param is None or isinstance(param, m.SearchParams):
        return param
    if not isinstance(param, Mapping):
        raise InvalidConfig(f"search params must be a dict, got {type(param).__name__}")
    inner = param.get("params") or {}
    ef = _int_param(inner, "ef", "hnsw_ef")
    exact = inner.get("exact")
    if ef is None and exact is None:
        return None
    return m.SearchParams(hnsw_ef=ef, exact=bool(exact) if exact is not None else None)


def check_search_kwargs(method: str, kwargs: Mapping[str, Any]) -> None:
    """Reject unknown keyword arguments, so a typo does not silently change a search.

    Raises:
        TypeError: naming the unknown arguments.
    """
    unknown = sorted(set(kwargs) - IGNORED_SEARCH_KWARGS)
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments {unknown}")
