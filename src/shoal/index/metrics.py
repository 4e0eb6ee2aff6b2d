"""Distance names and their usearch kernels.

Every distance the index returns is "smaller is nearer", as usearch reports them:
Cosine and Dot give ``1 - dot`` (Cosine vectors arrive unit-normalised from the engine, so the
inner product *is* the cosine), Euclid gives the *squared* L2 distance. The engine ranks
candidates by the exact scores it computes from its float32 matrix (``shoal.engine.search``,
the one implementation of the distances).
"""

from __future__ import annotations

import enum

from shoal.index.errors import UnsupportedMetric

COSINE, EUCLID, DOT, MANHATTAN = "Cosine", "Euclid", "Dot", "Manhattan"
METRICS = (COSINE, EUCLID, DOT, MANHATTAN)

# usearch 2.26.6's MetricKind has IP, Cos, L2sq, Haversine, Divergence, Pearson and bitwise
# kinds but no L1; a custom metric would need numba JIT and a Python-level callback per
# distance, far slower than exact numpy search. Manhattan therefore stays exact-only.
USEARCH_METRIC = {COSINE: "ip", DOT: "ip", EUCLID: "l2sq"}


def metric_name(metric: str) -> str:
    """The canonical distance name for a ``shoal.models.Distance`` member or its value.

    Args:
        metric: "Cosine", "Euclid", "Dot" or "Manhattan" (a str enum member works too).

    Returns:
        The plain string name.

    Raises:
        UnsupportedMetric: for any other name.
    """
    name = metric.value if isinstance(metric, enum.Enum) else str(metric)
    if name not in METRICS:
        raise UnsupportedMetric(name)
    return name


def hnsw_supports(metric: str) -> bool:
    """Whether the HNSW index can serve this distance (otherwise use exact search).

    Args:
        metric: a distance name or ``shoal.models.Distance`` member.

    Returns:
        True for Cosine, Euclid and Dot; False for Manhattan and unknown names.
    """
    try:
        return metric_name(metric) in USEARCH_METRIC
    except UnsupportedMetric:
        return False
