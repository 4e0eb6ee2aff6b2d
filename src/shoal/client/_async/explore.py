"""Exploring a collection with the async client: ``facet`` counts and the distance matrix
(``search_matrix_pairs``, ``search_matrix_offsets``), with qdrant-client 1.20's signatures
(``AsyncClient`` inherits them)."""

from __future__ import annotations

from typing import Any

from shoal import models as m
from shoal.client import convert
from shoal.client._async.transport import AsyncTransport
from shoal.errors import InvalidQuery


class AsyncExplore:
    """The exploration methods; ``AsyncClient`` provides the transport."""

    @property
    def _open_transport(self) -> AsyncTransport:
        raise NotImplementedError  # AsyncClient's

    async def facet(
        self,
        collection_name: str,
        key: str,
        facet_filter: m.Filter | str | None = None,
        limit: int = 10,
        exact: bool = False,
        consistency: m.ReadConsistency | None = None,
        timeout: int | None = None,
        shard_key_selector: Any | None = None,
    ) -> m.FacetResponse:
        """How many points hold each value of a payload key: the ``limit`` most frequent,
        by count (highest first), then by value.

        As on Qdrant, the key needs a keyword, integer, uuid or bool payload index, and
        only the values it holds count (strings, 64-bit integers, UUIDs, booleans); a point
        counts once per distinct value (each distinct element of an array).

        Args:
            collection_name: the collection.
            key: the payload key (``a.b``, ``a[].b``).
            facet_filter: count only the points matching this Filter or expression.
            limit: how many values to return (at least 1).
            exact: Qdrant's choice between an exact and an estimated count; Shoal counts
                exactly either way.
            consistency: Qdrant's read consistency; one node holds the one replica, so
                every level is met (sent on to a Qdrant cluster over HTTP).
            timeout: seconds the count may take (as in ``query_points``).
            shard_key_selector: refused with ``NotSupported`` (one shard on one node); sent
                on to a Qdrant cluster over HTTP.

        Returns:
            ``FacetResponse``: ``.hits``, each a ``value`` and its ``count``.

        Raises:
            InvalidQuery: no such index on the key, or a limit below 1.
            InvalidFilter: a malformed filter. RequestTimeout: the timeout passed first.
        """
        name = convert.collection_name(collection_name)
        body = convert.build(
            m.FacetRequest,
            InvalidQuery,
            key=convert.payload_key(key, "key"),
            filter=convert.filter_arg(facet_filter),
            limit=limit,
            exact=convert.flag(exact, "exact"),
            shard_key=shard_key_selector,
        )
        return await self._open_transport.facet(
            name, body, convert.timeout_arg(timeout), convert.consistency_arg(consistency)
        )

    async def search_matrix_pairs(
        self,
        collection_name: str,
        query_filter: m.Filter | str | None = None,
        limit: int = 3,
        sample: int = 10,
        using: str | None = None,
        consistency: m.ReadConsistency | None = None,
        timeout: int | None = None,
        shard_key_selector: Any | None = None,
    ) -> m.SearchMatrixPairsResponse:
        """The distance matrix of a random sample of points, as pairs.

        ``sample`` points are drawn at random among those matching ``query_filter`` that
        have the vector; for each, in id order, its ``limit`` nearest among the others
        drawn, best first.

        Args:
            collection_name: the collection.
            query_filter: draw only points matching this Filter or expression.
            limit: neighbours per point drawn (at least 1).
            sample: how many points to draw (at least 2; all of them when fewer match).
            using: the named vector (None: the unnamed one).
            consistency: as in ``facet``.
            timeout: seconds the search may take (as in ``query_points``).
            shard_key_selector: as in ``facet``.

        Returns:
            ``SearchMatrixPairsResponse``: ``.pairs``, each ``a``, ``b`` and their ``score``.

        Raises:
            InvalidQuery: an unknown vector, a sample below 2 or a limit below 1.
            InvalidFilter: a malformed filter. RequestTimeout: the timeout passed first.
        """
        name, body = _matrix_request(
            collection_name, query_filter, limit, sample, using, shard_key_selector
        )
        return await self._open_transport.search_matrix_pairs(
            name, body, convert.timeout_arg(timeout), convert.consistency_arg(consistency)
        )

    async def search_matrix_offsets(
        self,
        collection_name: str,
        query_filter: m.Filter | str | None = None,
        limit: int = 3,
        sample: int = 10,
        using: str | None = None,
        consistency: m.ReadConsistency | None = None,
        timeout: int | None = None,
        shard_key_selector: Any | None = None,
    ) -> m.SearchMatrixOffsetsResponse:
        """The distance matrix of a random sample of points (as ``search_matrix_pairs``), as
        a sparse matrix: ``ids`` (the points drawn, in id order) and, per entry, its row and
        column offsets into them and its score.

        Args:
            collection_name: the collection.
            query_filter: as in ``search_matrix_pairs``.
            limit: as in ``search_matrix_pairs``.
            sample: as in ``search_matrix_pairs``.
            using: as in ``search_matrix_pairs``.
            consistency: as in ``facet``.
            timeout: as in ``search_matrix_pairs``.
            shard_key_selector: as in ``facet``.

        Returns:
            ``SearchMatrixOffsetsResponse``.

        Raises:
            InvalidQuery, InvalidFilter, RequestTimeout: as ``search_matrix_pairs``.
        """
        name, body = _matrix_request(
            collection_name, query_filter, limit, sample, using, shard_key_selector
        )
        return await self._open_transport.search_matrix_offsets(
            name, body, convert.timeout_arg(timeout), convert.consistency_arg(consistency)
        )


def _matrix_request(
    collection_name: str,
    query_filter: m.Filter | str | None,
    limit: int,
    sample: int,
    using: str | None,
    shard_key: Any | None,
) -> tuple[str, m.SearchMatrixRequest]:
    name = convert.collection_name(collection_name)
    body = convert.build(
        m.SearchMatrixRequest,
        InvalidQuery,
        filter=convert.filter_arg(query_filter),
        limit=limit,
        sample=sample,
        using=using,
        shard_key=shard_key,
    )
    return name, body
