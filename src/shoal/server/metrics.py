"""Prometheus metrics of the server, rendered in the text exposition format.

A few counters do not justify a dependency: responses are counted per method, route and
status, with a latency histogram per method and route. Everything is updated from the event
loop thread only, so no lock is needed.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

# Seconds; from a cached point lookup to a large upsert waiting for fsync.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Request counts and latencies, plus collection sizes supplied at render time."""

    def __init__(self, app_name: str, version: str) -> None:
        self.app_name, self.version = app_name, version
        self.responses: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Record one response.

        Args:
            method: the HTTP method.
            endpoint: the route template (``/collections/{collection_name}``), never the raw
                path, so that label values stay bounded.
            status: the HTTP status sent.
            seconds: time spent handling the request.
        """
        key = (method, endpoint, status)
        self.responses[key] = self.responses.get(key, 0) + 1
        hist = self.latency.get((method, endpoint))
        if hist is None:
            hist = self.latency[(method, endpoint)] = _Histogram()
        hist.observe(seconds)

    def render(self, points: Mapping[str, int]) -> str:
        """The metrics in Prometheus text format.

        Args:
            points: number of points per collection name.

        Returns:
            The exposition text, ending with a newline.
        """
        out = [
            "# HELP app_info information about the server",
            "# TYPE app_info gauge",
            f'app_info{{name="{self.app_name}",version="{self.version}"}} 1',
            "# HELP collections_total number of collections",
            "# TYPE collections_total gauge",
            f"collections_total {len(points)}",
            "# HELP collection_points number of points per collection",
            "# TYPE collection_points gauge",
        ]
        out += [f'collection_points{{collection="{_label(n)}"}} {c}' for n, c in points.items()]
        out += [
            "# HELP rest_responses_total total number of responses",
            "# TYPE rest_responses_total counter",
        ]
        for (method, endpoint, status), count in sorted(self.responses.items()):
            labels = f'method="{method}",endpoint="{_label(endpoint)}",status="{status}"'
            out.append(f"rest_responses_total{{{labels}}} {count}")
        out += [
            "# HELP rest_responses_duration_seconds response latency",
            "# TYPE rest_responses_duration_seconds histogram",
        ]
        for (method, endpoint), hist in sorted(self.latency.items()):
            labels = f'method="{method}",endpoint="{_label(endpoint)}"'
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), hist.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(
                    f'rest_responses_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative}'
                )
            out.append(f"rest_responses_duration_seconds_sum{{{labels}}} {hist.total!r}")
            out.append(f"rest_responses_duration_seconds_count{{{labels}}} {hist.n}")
        return "\n".join(out) + "\n"
