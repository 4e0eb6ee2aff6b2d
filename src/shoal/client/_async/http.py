"""The HTTP transport: requests go to ``shoal serve`` or any server speaking Qdrant's REST API.

It has the same methods and signatures as the embedded transport, takes and returns the
same ``shoal.models`` objects, and raises the same ``shoal.errors`` classes, so a client
gives identical results whichever transport it has. One pooled, keep-alive httpx client
carries every request.

Expression filters are a Shoal extension: before sending, each one is converted to the
structured ``Filter`` with the same meaning, so the request works against a Qdrant cluster
too; only an expression with no structured equivalent goes out as its text, which only
``shoal serve`` understands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from typing_extensions import assert_never

from shoal import errors
from shoal import models as m
from shoal.client.http_gate import RequestGate
from shoal.client.sendable import sendable_points, sendable_query
from shoal.concurrency import AsyncBatcher, consecutive, run_grouped_async, shield_async
from shoal.errors import BadRequest, InvalidFilter, RemoteError, ShoalError
from shoal.ids import canonical_id
from shoal.payloads import check_payload

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = 30.0
JSON_HEADERS = {"content-type": "application/json"}
ERROR_TYPE_HEADER = "x-shoal-error"
# Asks shoal serve to apply a /points/batch's operations as independent writes (see
# shoal.server.wire.WRITE_MODE_HEADER); Qdrant ignores it.
INDEPENDENT_WRITES = {"x-shoal-write-mode": "independent"}
# Requests on the wire at once per client; more wait in a queue in front of httpx's
# pool, which slows down sharply when many requests wait inside it (see http_gate). 8 was
# the fastest of 4, 8 and 16 in bench/bench_server.py (64 requests in flight).
MAX_IN_FLIGHT = 8
LIMITS = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)

_RECORDS = TypeAdapter(list[m.Record])
_RESPONSES = TypeAdapter(list[m.QueryResponse])
_UPDATE_RESULTS = TypeAdapter(list[m.UpdateResult])

# A write as the batcher holds it: collection, operation, body, wait.
_Write = tuple[str, m.UpdateOperation, bool]
# A query as the batcher holds it: collection, request, timeout.
_Query = tuple[str, m.QueryRequest, "int | None"]
# A batch's queries go per collection and timeout (a request has one of each), its writes
# per collection.
_ROUTE = itemgetter(0, 2)
_BY_COLLECTION = itemgetter(0)
# A /points/batch carries at most this many operations and (about) this many points;
# a write with more points than that is sent alone.
MAX_BATCH_OPS = 256
MAX_BATCH_POINTS = 1024


class AsyncHttpTransport:
    """Runs requests on a server over HTTP.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:6333`` (a path prefix is kept).
        api_key: sent in the ``api-key`` header.
        timeout: seconds to wait for each request (default 30).
        http_client: an httpx client to send requests with, instead of a new pooled one
            (tests pass one bound to an in-process app). The transport does not close it.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = _base_url(url)
        headers = {"api-key": api_key} if api_key else {}
        self._owns_client = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                headers=headers,
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                limits=LIMITS,
            )
        else:
            http_client.headers.update(headers)
        self._http = http_client
        self._gate = RequestGate(MAX_IN_FLIGHT)
        # A batch of query_points calls is sent as one /points/query/batch (a batch of one as
        # /points/query), a batch of small writes as one /points/batch.
        self._queries: AsyncBatcher[_Query, m.QueryResponse] = AsyncBatcher(self._query_many)
        self._writes: AsyncBatcher[_Write, m.UpdateResult] = AsyncBatcher(self._write_many)

    async def close(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        wait: bool | None = None,
        headers: dict[str, str] | None = None,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> Any:
        """Send one request and return the envelope's ``result``.

        ``wait``, ``timeout`` and ``consistency`` become Qdrant's query parameters of the
        same names.

        Raises:
            ShoalError: the server's error, as the class embedded mode raises.
            RemoteError: the server could not be reached (status 503), or answered
                something that is not Qdrant's envelope.
        """
        content = None if body is None else _encode(body)
        params: dict[str, str] = {}
        if wait is not None:
            params["wait"] = "true" if wait else "false"
        if timeout is not None:
            params["timeout"] = str(timeout)
        if consistency is not None:
            params["consistency"] = str(getattr(consistency, "value", consistency))
        try:
            async with self._gate:
                response = await self._http.request(
                    method,
                    self.url + path,
                    content=content,
                    params=params or None,
                    headers=(JSON_HEADERS if content is not None else {}) | (headers or {}),
                )
        except httpx.TimeoutException as exc:
            raise RemoteError(504, f"Request to {self.url} timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise RemoteError(503, f"Cannot reach the server at {self.url}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return orjson.loads(response.content)["result"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise RemoteError(
                response.status_code,
                f"Unexpected response from {self.url}{path}: {response.text[:200]!r}",
            ) from None

    # ---------------------------------------------------------------- collections

    async def create_collection(
        self, name: str, body: m.CreateCollection, timeout: int | None = None
    ) -> bool:
        return bool(await shield_async(self._request("PUT", _col(name), body, timeout=timeout)))

    async def delete_collection(self, name: str, timeout: int | None = None) -> bool:
        return bool(await shield_async(self._request("DELETE", _col(name), timeout=timeout)))

    async def collection_exists(self, name: str) -> bool:
        result = await self._request("GET", _col(name) + "/exists")
        return _parse(m.CollectionExistence, result).exists

    async def get_collection(self, name: str) -> m.CollectionInfo:
        return _parse(m.CollectionInfo, await self._request("GET", _col(name)))

    async def get_collections(self) -> m.CollectionsResponse:
        return _parse(m.CollectionsResponse, await self._request("GET", "/collections"))

    # ---------------------------------------------------------- aliases, snapshots

    async def update_collection(
        self, name: str, body: m.UpdateCollection, timeout: int | None = None
    ) -> bool:
        request = self._request("PATCH", _col(name), body, timeout=timeout)
        return bool(await shield_async(request))

    async def create_vector_name(
        self,
        name: str,
        vector: str,
        body: m.VectorNameConfig,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        path = f"{_col(name)}/vectors/{_segment(vector)}"
        request = self._request("PUT", path, body, wait=wait, timeout=timeout)
        return _parse(m.UpdateResult, await shield_async(request))

    async def delete_vector_name(
        self, name: str, vector: str, wait: bool, timeout: int | None = None
    ) -> m.UpdateResult:
        path = f"{_col(name)}/vectors/{_segment(vector)}"
        request = self._request("DELETE", path, wait=wait, timeout=timeout)
        return _parse(m.UpdateResult, await shield_async(request))

    async def update_aliases(self, body: m.ChangeAliasesOperation, timeout: int | None) -> bool:
        request = self._request("POST", "/collections/aliases", body, timeout=timeout)
        return bool(await shield_async(request))

    async def get_aliases(self, name: str | None) -> m.CollectionsAliasesResponse:
        path = "/aliases" if name is None else _col(name) + "/aliases"
        return _parse(m.CollectionsAliasesResponse, await self._request("GET", path))

    async def create_snapshot(self, name: str | None, wait: bool) -> m.SnapshotDescription | None:
        result = await shield_async(self._request("POST", _snapshots(name), wait=wait))
        return None if result is None else _parse(m.SnapshotDescription, result)

    async def list_snapshots(self, name: str | None) -> list[m.SnapshotDescription]:
        result = await self._request("GET", _snapshots(name))
        return [_parse(m.SnapshotDescription, s) for s in result]

    async def delete_snapshot(self, name: str | None, snapshot: str, wait: bool) -> bool:
        path = _snapshots(name) + "/" + _segment(snapshot)
        request = self._request("DELETE", path, wait=wait)
        return bool(await shield_async(request))

    async def recover_snapshot(self, name: str, body: m.SnapshotRecover, wait: bool) -> bool:
        path = _col(name) + "/snapshots/recover"
        request = self._request("PUT", path, body, wait=wait)
        return bool(await shield_async(request))

    # ----------------------------------------------------------------- points

    async def upsert(
        self, name: str, body: m.PointsList | m.PointsBatch, wait: bool
    ) -> m.UpdateResult:
        body = stored_payloads(sendable_points(body))
        return await self._writes.submit((name, m.UpsertOperation(upsert=body), wait))

    async def delete(
        self,
        name: str,
        selector: m.PointIdsList | m.FilterSelector,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        body = _portable(selector)
        if timeout is None:
            return await self._writes.submit((name, m.DeleteOperation(delete=body), wait))
        # A delete with its own timeout goes alone: a batch has one timeout for all.
        path = _col(name) + "/points/delete"
        result = await self._request("POST", path, body, wait, timeout=timeout)
        return _parse(m.UpdateResult, result)

    async def retrieve(self, name: str, body: m.PointRequest) -> list[m.Record]:
        result = await self._request("POST", _col(name) + "/points", body)
        return _parse_list(_RECORDS, result)

    async def scroll(
        self, name: str, body: m.ScrollRequest, timeout: int | None = None
    ) -> m.ScrollResult:
        path = _col(name) + "/points/scroll"
        result = await self._request("POST", path, _portable(body), timeout=timeout)
        return _parse(m.ScrollResult, result)

    async def count(
        self, name: str, body: m.CountRequest, timeout: int | None = None
    ) -> m.CountResult:
        path = _col(name) + "/points/count"
        result = await self._request("POST", path, _portable(body), timeout=timeout)
        return _parse(m.CountResult, result)

    async def facet(
        self,
        name: str,
        body: m.FacetRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.FacetResponse:
        path = _col(name) + "/facet"
        return await self._read(m.FacetResponse, path, body, timeout, consistency)

    async def search_matrix_pairs(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixPairsResponse:
        path = _col(name) + "/points/search/matrix/pairs"
        return await self._read(m.SearchMatrixPairsResponse, path, body, timeout, consistency)

    async def search_matrix_offsets(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixOffsetsResponse:
        path = _col(name) + "/points/search/matrix/offsets"
        return await self._read(m.SearchMatrixOffsetsResponse, path, body, timeout, consistency)

    async def _read(
        self,
        model: type[M],
        path: str,
        body: BaseModel,
        timeout: int | None,
        consistency: m.ReadConsistency | None,
    ) -> M:
        """POST a read request (its expression filter made portable) and parse the answer."""
        sent = _portable(body)
        result = await self._request("POST", path, sent, timeout=timeout, consistency=consistency)
        return _parse(model, result)

    async def query(
        self, name: str, body: m.QueryRequest, timeout: int | None = None
    ) -> m.QueryResponse:
        return await self._queries.submit((name, sendable_query(body), timeout))

    async def query_groups(
        self, name: str, body: m.QueryGroupsRequest, timeout: int | None = None
    ) -> m.GroupsResult:
        path = _col(name) + "/points/query/groups"
        result = await self._request("POST", path, _portable(body), timeout=timeout)
        return _parse(m.GroupsResult, result)

    async def _query_one(
        self, name: str, body: m.QueryRequest, timeout: int | None
    ) -> m.QueryResponse:
        path = _col(name) + "/points/query"
        result = await self._request("POST", path, _portable(body), timeout=timeout)
        return _parse(m.QueryResponse, result)

    async def _query_many(self, items: list[_Query]) -> list[m.QueryResponse | BaseException]:
        """Concurrent queries of one collection (and one timeout) travel as one batch
        request; if the batch is rejected, each query is retried alone so only the bad one
        fails."""
        return await run_grouped_async(items, _ROUTE, self._query_group)

    async def _query_group(
        self, route: tuple[str, int | None], items: list[_Query]
    ) -> list[m.QueryResponse | BaseException]:
        name, timeout = route
        requests = [body for _, body, _ in items]
        try:
            if len(requests) == 1:
                return [await self._query_one(name, requests[0], timeout)]
            batch = m.QueryRequestBatch(searches=requests)
            return list(await self.query_batch(name, batch, timeout))
        except ShoalError as exc:
            if len(requests) == 1:
                return [exc]
            return [await self._query_outcome(name, r, timeout) for r in requests]

    async def _query_outcome(
        self, name: str, body: m.QueryRequest, timeout: int | None
    ) -> m.QueryResponse | BaseException:
        try:
            return await self._query_one(name, body, timeout)
        except ShoalError as exc:
            return exc

    async def query_batch(
        self, name: str, body: m.QueryRequestBatch, timeout: int | None = None
    ) -> list[m.QueryResponse]:
        searches = [_portable(sendable_query(s)) for s in body.searches]
        if any(a is not b for a, b in zip(searches, body.searches, strict=True)):
            body = m.QueryRequestBatch(searches=searches)
        path = _col(name) + "/points/query/batch"
        result = await self._request("POST", path, body, timeout=timeout)
        return _parse_list(_RESPONSES, result)

    # ---------------------------------------------------------------- payload

    async def update_vectors(self, name: str, body: m.UpdateVectors, wait: bool) -> m.UpdateResult:
        op = m.UpdateVectorsOperation(update_vectors=sendable_points(body))
        return await self._writes.submit((name, op, wait))

    async def delete_vectors(self, name: str, body: m.DeleteVectors, wait: bool) -> m.UpdateResult:
        op = m.DeleteVectorsOperation(delete_vectors=_portable(body))
        return await self._writes.submit((name, op, wait))

    async def set_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        body = stored_payloads(_portable(body), "set_payload")
        return await self._writes.submit((name, m.SetPayloadOperation(set_payload=body), wait))

    async def overwrite_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        body = stored_payloads(_portable(body), "overwrite_payload")
        op = m.OverwritePayloadOperation(overwrite_payload=body)
        return await self._writes.submit((name, op, wait))

    async def delete_payload(self, name: str, body: m.DeletePayload, wait: bool) -> m.UpdateResult:
        op = m.DeletePayloadOperation(delete_payload=_portable(body))
        return await self._writes.submit((name, op, wait))

    async def clear_payload(
        self, name: str, selector: m.PointIdsList | m.FilterSelector, wait: bool
    ) -> m.UpdateResult:
        op = m.ClearPayloadOperation(clear_payload=_portable(selector))
        return await self._writes.submit((name, op, wait))

    async def batch_update(
        self, name: str, body: m.UpdateOperations, wait: bool
    ) -> list[m.UpdateResult]:
        # An expression filter goes out structured, as in every other request.
        operations = [
            op.model_copy(
                update={
                    f: stored_payloads(sendable_points(_portable(getattr(op, f))), f)
                    for f in type(op).model_fields
                }
            )
            for op in body.operations
        ]
        body = m.UpdateOperations(operations=operations)
        result = await shield_async(self._request("POST", _col(name) + "/points/batch", body, wait))
        return _parse_list(_UPDATE_RESULTS, result)

    async def _write_many(self, items: list[_Write]) -> list[m.UpdateResult | BaseException]:
        """A batch's writes: per collection, runs of small ones with the same ``wait`` go
        as one ``/points/batch``, in arrival order; a large write goes alone.

        ``shoal serve`` applies a batch all or nothing, so when it rejects one (a 4xx error)
        nothing has changed and each write is sent again alone: only the bad one fails. (A
        Qdrant server applies a batch up to its failing operation; the writes before it
        would then be applied twice, in order, which upserts and payload updates survive.)
        """
        return await run_grouped_async(items, _BY_COLLECTION, self._write_group)

    async def _write_group(
        self, name: str, writes: list[_Write]
    ) -> list[m.UpdateResult | BaseException]:
        out: list[m.UpdateResult | BaseException] = []
        for chunk in _write_chunks(writes):
            out += await self._write_chunk(name, [writes[j] for j in chunk])
        return out

    async def _write_chunk(
        self, name: str, writes: list[_Write]
    ) -> list[m.UpdateResult | BaseException]:
        """One chunk's outcomes, from one request.

        ``shoal serve`` applies the chunk's writes independently (the write-mode header)
        and answers each one's outcome. A Qdrant server ignores the header and applies the
        batch up to a failing operation; then each write is sent again alone, so only the
        bad one fails (the writes before it are applied twice, in order, which upserts and
        payload updates survive).
        """
        if len(writes) == 1:
            return [await self._write_outcome(writes[0])]
        wait = writes[0][2]
        body = m.UpdateOperations(operations=[op for _, op, _ in writes])
        try:
            result = await self._request(
                "POST", _col(name) + "/points/batch", body, wait, INDEPENDENT_WRITES
            )
        except ShoalError as exc:
            if exc.status_code >= 500:  # the server may have applied it: do not resend
                return [exc] * len(writes)
            return [await self._write_outcome(w) for w in writes]
        if not isinstance(result, list) or len(result) != len(writes):
            raise RemoteError(
                502, f"The server answered {result!r:.80} for {len(writes)} operations"
            )
        return [_update_outcome(item) for item in result]

    async def _write_outcome(self, write: _Write) -> m.UpdateResult | BaseException:
        name, op, wait = write
        method, path, body = _route(op)
        try:
            result = await self._request(method, _col(name) + path, body, wait)
        except ShoalError as exc:
            return exc
        return _parse(m.UpdateResult, result)

    async def create_payload_index(
        self, name: str, body: m.CreateFieldIndex, wait: bool
    ) -> m.UpdateResult:
        result = await shield_async(self._request("PUT", _col(name) + "/index", body, wait))
        return _parse(m.UpdateResult, result)

    async def delete_payload_index(self, name: str, field: str, wait: bool) -> m.UpdateResult:
        path = _col(name) + "/index/" + _segment(field)
        result = await shield_async(self._request("DELETE", path, None, wait))
        return _parse(m.UpdateResult, result)


# ------------------------------------------------------------------ encoding


def _route(op: m.UpdateOperation) -> tuple[str, str, BaseModel]:
    """A write's own endpoint (method, path under the collection) and body."""
    match op:
        case m.UpsertOperation(upsert=body):
            return "PUT", "/points", body
        case m.DeleteOperation(delete=selector):
            return "POST", "/points/delete", selector
        case m.SetPayloadOperation(set_payload=body):
            return "POST", "/points/payload", body
        case m.OverwritePayloadOperation(overwrite_payload=body):
            return "PUT", "/points/payload", body
        case m.DeletePayloadOperation(delete_payload=body):
            return "POST", "/points/payload/delete", body
        case m.ClearPayloadOperation(clear_payload=selector):
            return "POST", "/points/payload/clear", selector
        case m.UpdateVectorsOperation(update_vectors=body):
            return "PUT", "/points/vectors", body
        case m.DeleteVectorsOperation(delete_vectors=body):
            return "POST", "/points/vectors/delete", body
    assert_never(op)


def _points_in(op: m.UpdateOperation) -> int:
    """How many points a write carries (1 for a filter or a payload update by filter)."""
    body = _route(op)[2]
    if isinstance(body, m.PointsList):
        return len(body.points)
    if isinstance(body, m.PointsBatch):
        return len(body.batch.ids)
    points = getattr(body, "points", None)
    return len(points) if isinstance(points, list) else 1


def _write_chunks(writes: list[_Write]) -> list[list[int]]:
    """Consecutive writes of one collection in the requests that carry them: runs of one
    ``wait`` flag, cut at MAX_BATCH_OPS operations or MAX_BATCH_POINTS points."""
    chunks: list[list[int]] = []
    for run in consecutive([wait for _, _, wait in writes]):
        chunks.append([])
        points = 0
        for i in run:
            size = _points_in(writes[i][1])
            if chunks[-1] and (
                len(chunks[-1]) >= MAX_BATCH_OPS or points + size > MAX_BATCH_POINTS
            ):
                chunks.append([])
                points = 0
            chunks[-1].append(i)
            points += size
    return chunks


def _base_url(url: str) -> str:
    """The server's base URL without a trailing slash.

    Raises:
        BadRequest: not a URL with a host.
    """
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, TypeError) as exc:
        raise BadRequest(f"Wrong input: {url!r:.80} is not a valid URL ({exc})") from None
    if not host:
        raise BadRequest(f"Wrong input: URL {url!r:.80} names no host")
    return url.rstrip("/")


def _col(name: str) -> str:
    return "/collections/" + _segment(name)


def _snapshots(name: str | None) -> str:
    """The snapshots of a collection, or (None) the full snapshots."""
    return "/snapshots" if name is None else _col(name) + "/snapshots"


def _segment(text: str) -> str:
    """``text`` as one URL path segment. "." and ".." are spelled with escapes: a client
    would otherwise resolve them as the current and parent folder (``/collections/c/index/..``
    is ``/collections/c``)."""
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


def _encode(body: BaseModel) -> bytes:
    # Qdrant's JSON leaves unset optional fields out; ``by_alias`` spells MatchExcept "except".
    return body.__pydantic_serializer__.to_json(body, by_alias=True, exclude_none=True)


def _parse(model: type[M], result: Any) -> M:
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        raise RemoteError(502, f"Unexpected {model.__name__} from the server: {exc}") from None


def _parse_list(adapter: TypeAdapter[list[Any]], result: Any) -> list[Any]:
    try:
        return adapter.validate_python(result)
    except ValidationError as exc:
        raise RemoteError(502, f"Unexpected result from the server: {exc}") from None


_Converter = Callable[[str], m.Filter]
_converter: list[_Converter | None] = []


def _to_qdrant_filter() -> _Converter | None:
    # Imported on first use and remembered: the converter lives in shoal.filters, which the
    # HTTP client needs only when an expression is actually sent.
    if not _converter:
        try:
            from shoal.filters.convert import to_qdrant_filter
        except ImportError:
            _converter.append(None)
        else:
            _converter.append(to_qdrant_filter)
    return _converter[0]


def structured_filter(flt: m.Filter | str | None) -> m.Filter | str | None:
    """The structured form of an expression filter, or the expression if it has none.

    Args:
        flt: a structured filter, an expression string, or None.

    Returns:
        A ``Filter`` when ``flt`` is one or converts to one; otherwise the expression text
        (valid only on ``shoal serve``, which also reports syntax errors exactly as embedded
        mode does).
    """
    if not isinstance(flt, str):
        return flt
    convert = _to_qdrant_filter()
    if convert is None:
        return flt
    try:
        return convert(flt)
    except InvalidFilter:
        return flt


def stored_payloads(body: M, operation: str = "") -> M:
    """``body`` with every payload it writes checked and in stored form, as embedded mode
    checks it: a payload the server could not store (too deep, an integer beyond 64 bits, a
    lone surrogate, a numpy scalar the serialiser refuses) fails here, named, and is never
    sent.

    Args:
        body: a write's body.
        operation: its operation (``set_payload``...), naming a payload update's payload.

    Raises:
        InvalidPayload: naming the point and the key path of the bad value.
    """
    if isinstance(body, m.PointsList):
        points = [
            p
            if p.payload is None
            else p.model_copy(update={"payload": check_payload(p.payload, point=p.id)})
            for p in body.points
        ]
        return body.model_copy(update={"points": points})
    if isinstance(body, m.PointsBatch) and body.batch.payloads is not None:
        payloads = [
            check_payload(p, point=i)
            for i, p in zip(body.batch.ids, body.batch.payloads, strict=False)
        ]
        batch = body.batch.model_copy(update={"payloads": payloads})
        return body.model_copy(update={"batch": batch})
    if isinstance(body, m.SetPayload):
        payload = check_payload(body.payload, point=f"({operation})")
        return body.model_copy(update={"payload": payload})
    return body


def _portable(body: M) -> M:
    """``body`` with an expression filter replaced by its structured form where one exists."""
    flt = getattr(body, "filter", None)
    if not isinstance(flt, str):
        return body
    converted = structured_filter(flt)
    if converted is flt:
        return body
    return body.model_copy(update={"filter": converted})


# -------------------------------------------------------------------- errors

_COLLECTION = re.compile(r"Collection `(.*)` (?:doesn't exist|already exists)")
_POINT = re.compile(r"No point with id (\S+) found")
_RETRY_AFTER = re.compile(r"Retry after (\d+)s")
_DIM = re.compile(r"expected dim: (\d+), got (\d+)")


def error_from_response(response: httpx.Response) -> ShoalError:
    """The exception embedded mode would have raised for this error response.

    ``shoal serve`` names the class in the ``x-shoal-error`` header. Other servers (Qdrant)
    do not, so the status and message decide: a missing collection or point, an existing
    collection, or a bad api key map to their classes, any other 400 to ``BadRequest``, and
    anything else to ``RemoteError`` carrying the status.

    Args:
        response: a response with status 400 or more.

    Returns:
        The exception, with the server's message and ``status_code``.
    """
    return error_from(
        response.status_code, _error_message(response), response.headers.get(ERROR_TYPE_HEADER)
    )


def error_from(status: int, message: str, type_name: str | None) -> ShoalError:
    """The exception for an error with this status, message and (shoal serve's) class name."""
    cls = _error_class(type_name, status, message)
    # Built without the class's own __init__: the server's message is already final, and
    # the constructors differ (CollectionNotFound takes a name, RemoteError a status).
    exc = cls.__new__(cls)
    ShoalError.__init__(exc, message)
    if exc.status_code != status:
        exc.status_code = status
    _restore_attributes(exc, message)
    return exc


def _update_outcome(item: Any) -> m.UpdateResult | BaseException:
    """One operation's outcome in an independent /points/batch answer."""
    if isinstance(item, dict) and "error" in item:
        status = item.get("status")
        return error_from(
            status if isinstance(status, int) else 400,
            str(item["error"]),
            item.get("error_type"),
        )
    return _parse(m.UpdateResult, item)


def _error_message(response: httpx.Response) -> str:
    try:
        data = orjson.loads(response.content)
        text = data["status"]["error"]
        if isinstance(text, str):
            return text
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    return response.text.strip() or f"HTTP {response.status_code} {response.reason_phrase}"


def _error_class(name: str | None, status: int, message: str) -> type[ShoalError]:
    if name and name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, ShoalError):
            return cls
    if status == 404 and _COLLECTION.search(message):
        return errors.CollectionNotFound
    if status == 409 and _COLLECTION.search(message):
        return errors.CollectionAlreadyExists
    if status == 404 and _POINT.search(message):
        return errors.PointNotFound
    if status == 400 and _DIM.search(message):
        return errors.WrongVectorSize
    by_status: dict[int, type[ShoalError]] = {
        400: errors.BadRequest,
        401: errors.Unauthorized,
        403: errors.Forbidden,
        408: errors.RequestTimeout,
        429: errors.Overloaded,
    }
    return by_status.get(status, RemoteError)


def _restore_attributes(exc: ShoalError, message: str) -> None:
    # The attributes embedded mode's exceptions carry, recovered from the message.
    if isinstance(exc, (errors.CollectionNotFound, errors.CollectionAlreadyExists)):
        found = _COLLECTION.search(message)
        exc.collection_name = found.group(1) if found else ""
    elif isinstance(exc, errors.PointNotFound):
        found = _POINT.search(message)
        raw = found.group(1) if found else ""
        try:
            exc.point_id = canonical_id(int(raw) if raw.isdigit() else raw)
        except ShoalError:
            exc.point_id = raw
    elif isinstance(exc, errors.WrongVectorSize):
        found = _DIM.search(message)
        exc.expected, exc.got = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    elif isinstance(exc, errors.InvalidFilter):
        exc.expression, exc.position = None, None
    elif isinstance(exc, errors.RateLimited):
        found = _RETRY_AFTER.search(message)
        exc.retry_after = int(found.group(1)) if found else None
    elif isinstance(exc, errors.StorageLocked):
        exc.path, exc.pid, exc.served_at = "", None, None
