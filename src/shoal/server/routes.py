"""The REST operations: one coroutine per Qdrant endpoint, and the table that routes them.

Each operation parses its request into ``shoal.models`` (the same models the embedded client
builds) and hands them to the engine on a worker thread, so the event loop never waits on a
search, a lock or an fsync. What an operation returns is the envelope's ``result``.

Queries, scrolls, counts and deletes run against a deadline (``Call.timed``); while the
engine works on one, a task watches for its client to disconnect, which ends the work.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse

from shoal import models as m
from shoal.concurrency import run_in_thread
from shoal.engine import Collection, Database
from shoal.engine.deadline import Deadline
from shoal.engine.limits import Limits
from shoal.engine.support import check_shard_key
from shoal.errors import BadRequest, PointNotFound
from shoal.ids import path_id
from shoal.server import bodies, wire
from shoal.server.inflight import InFlight, watch_disconnect

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing it as soon as it is known to exceed ``limit`` bytes.

    Raises:
        PayloadTooLarge: the declared or received length is over the limit.
        BadRequest: a malformed ``Content-Length``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(f"Invalid Content-Length header {declared!r}") from None
        if size > limit:
            raise wire.PayloadTooLarge(_too_large(size, limit))
    chunks: list[bytes] = []
    received = 0
    # A chunked body has no declared length: count while reading and stop at the limit.
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise wire.PayloadTooLarge(_too_large(received, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"Payload too large: request body of {size} bytes (or more) exceeds the server's "
        f"limit of {limit} bytes; send smaller batches or raise --max-body-mb"
    )


# Seconds of engine work after which a request starts watching for its client to leave.
WATCH_AFTER = 0.005


@dataclass
class Call:
    """One request as an operation sees it.

    Attributes:
        request: the HTTP request.
        database: the served database (None while the server starts or stops).
        max_body: the largest body accepted, in bytes.
        inflight: the server's requests in flight, where ``timed`` registers deadlines.
        deadline: this request's deadline, once ``timed`` made it.
    """

    request: Request
    database: Database | None
    max_body: int
    inflight: InFlight
    deadline: Deadline | None = None

    @property
    def db(self) -> Database:
        """The served database.

        Raises:
            ServiceUnavailable: it is not open (the server is starting or stopping).
        """
        if self.database is None:
            raise wire.ServiceUnavailable("Service unavailable: the database is not open")
        return self.database

    @property
    def name(self) -> str:
        """The ``{collection_name}`` path parameter."""
        name: str = self.request.path_params["collection_name"]
        return name

    def wait(self) -> bool:
        """The ``wait`` query parameter; Qdrant's default is not to wait."""
        return wire.query_bool(self.request.query_params, "wait", False)

    @property
    def limits(self) -> Limits:
        """The limits the served database holds filters to."""
        return self.database.limits if self.database is not None else Limits()

    async def parsed(self, convert: Callable[[Any], T]) -> T:
        """The body decoded (``{}`` when empty), its filters checked against the limits,
        and passed through ``convert``: on a worker thread when the body is large."""
        raw = await read_body(self.request, self.max_body)
        return await bodies.decode_off_loop(raw, self.limits, convert)

    async def json(self) -> Any:
        """The decoded JSON body (``{}`` when empty)."""
        return await self.parsed(_same)

    async def body(self, model: type[M]) -> M:
        """The body validated as ``model``.

        Raises:
            UnprocessableBody: not such a body. NotSupported: it names a ``shard_key``.
        """
        body = await self.parsed(functools.partial(wire.validate, model))
        check_shard_key(body)
        return body

    def timed(self, operation: str) -> Deadline:
        """This request's deadline: its ``timeout`` parameter, else the server's default.

        Args:
            operation: what is timed, as a timeout error names it.

        Raises:
            BadRequest: a ``timeout`` that is not a positive whole number.
        """
        # Most requests have no query string: skip parsing one (~3 µs).
        given = b"timeout" in self.request.scope.get("query_string", b"")
        timeout = wire.query_timeout(self.request.query_params) if given else None
        self.deadline = self.inflight.start(timeout, operation)
        return self.deadline

    def finish(self) -> None:
        """Forget this request's deadline (it has been answered)."""
        if self.deadline is not None:
            self.inflight.finish(self.deadline)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking engine call on a worker thread; with a deadline, a client that
        disconnects meanwhile moves it to now (the body has been read by then)."""
        work = functools.partial(fn, *args, **kwargs)
        deadline = self.deadline
        if deadline is None:
            return await run_in_thread(work)
        # The watch starts only once the work has taken WATCH_AFTER: most requests are
        # answered sooner, and a task per request would cost them ~15 µs each.
        loop = asyncio.get_running_loop()
        watchers: list[asyncio.Task[None]] = []
        receive = self.request.receive
        start = loop.call_later(
            WATCH_AFTER,
            lambda: watchers.append(loop.create_task(watch_disconnect(receive, deadline))),
        )
        try:
            return await run_in_thread(work)
        finally:
            start.cancel()
            for watcher in watchers:
                watcher.cancel()

    async def on_collection(
        self,
        method: Callable[Concatenate[Collection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Call a ``Collection`` method on this request's collection, in one thread hop."""
        db, name = self.db, self.name
        return await self.run(lambda: method(db.collection(name), *args, **kwargs))


# ------------------------------------------------------------------ collections


async def list_collections(call: Call) -> m.CollectionsResponse:
    """GET /collections: the names of all collections."""
    return await call.run(call.db.get_collections)


async def get_collection(call: Call) -> m.CollectionInfo:
    """GET /collections/{name}: configuration, point count and payload indexes."""
    return await call.on_collection(Collection.info)


async def create_collection(call: Call) -> bool:
    """PUT /collections/{name}: create a collection (409 if it exists)."""
    body = await call.body(m.CreateCollection)
    return await call.run(call.db.create_collection, call.name, body)


async def update_collection(call: Call) -> bool:
    """PATCH /collections/{name}: change a collection's settings."""
    body = await call.body(m.UpdateCollection)
    return await call.run(call.db.update_collection, call.name, body)


async def create_vector_name(call: Call) -> m.UpdateResult:
    """PUT /collections/{name}/vectors/{vector_name}: add a dense or sparse vector."""
    call.wait()
    vector: str = call.request.path_params["vector_name"]
    body = await call.parsed(_vector_name_config)
    await call.run(call.db.create_vector_name, call.name, vector, body)
    return _COMPLETED


async def delete_vector_name(call: Call) -> m.UpdateResult:
    """DELETE /collections/{name}/vectors/{vector_name}: remove a vector and its data."""
    call.wait()
    vector: str = call.request.path_params["vector_name"]
    await call.run(call.db.delete_vector_name, call.name, vector)
    return _COMPLETED


async def delete_collection(call: Call) -> bool:
    """DELETE /collections/{name}: true if it existed."""
    return await call.run(call.db.delete_collection, call.name)


async def collection_exists(call: Call) -> m.CollectionExistence:
    """GET /collections/{name}/exists."""
    exists = await call.run(call.db.collection_exists, call.name)
    return m.CollectionExistence(exists=exists)


# ----------------------------------------------------------- aliases, snapshots


async def update_aliases(call: Call) -> bool:
    """POST /collections/aliases: create, delete and rename aliases, all or none."""
    body = await call.body(m.ChangeAliasesOperation)
    return await call.run(call.db.update_aliases, body.actions)


async def collection_aliases(call: Call) -> m.CollectionsAliasesResponse:
    """GET /collections/{name}/aliases."""
    return await call.run(call.db.list_aliases, call.name)


async def all_aliases(call: Call) -> m.CollectionsAliasesResponse:
    """GET /aliases."""
    return await call.run(call.db.list_aliases, None)


def _snapshot_of(call: Call) -> str | None:
    """The collection whose snapshots a path names; None for the full snapshots."""
    return call.name if "collection_name" in call.request.path_params else None


def _snapshot_wait(call: Call) -> bool:
    # Qdrant waits for snapshots unless told not to (``wait`` defaults to true here). Shoal
    # takes them before answering either way; without waiting the result is null.
    return wire.query_bool(call.request.query_params, "wait", True)


async def create_snapshot(call: Call) -> m.SnapshotDescription | None:
    """POST /collections/{name}/snapshots, POST /snapshots (a full snapshot)."""
    wait = _snapshot_wait(call)
    made = await call.run(call.db.create_snapshot, _snapshot_of(call))
    return made if wait else None


async def list_snapshots(call: Call) -> list[m.SnapshotDescription]:
    """GET /collections/{name}/snapshots, GET /snapshots."""
    return await call.run(call.db.list_snapshots, _snapshot_of(call))


async def delete_snapshot(call: Call) -> bool | None:
    """DELETE /collections/{name}/snapshots/{snapshot_name}, DELETE /snapshots/{...}."""
    wait = _snapshot_wait(call)
    snapshot: str = call.request.path_params["snapshot_name"]
    done = await call.run(call.db.delete_snapshot, _snapshot_of(call), snapshot)
    return done if wait else None


async def download_snapshot(call: Call) -> FileResponse:
    """GET /collections/{name}/snapshots/{snapshot_name}, GET /snapshots/{...}: the file."""
    snapshot: str = call.request.path_params["snapshot_name"]
    path = await call.run(call.db.snapshot_path, _snapshot_of(call), snapshot)
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


async def upload_snapshot(call: Call) -> bool | None:
    """POST /collections/{name}/snapshots/upload: replace the collection with an uploaded
    snapshot (a multipart form with a ``snapshot`` file, no larger than the body limit)."""
    wait = _snapshot_wait(call)
    params = call.request.query_params
    raw = await read_body(call.request, call.max_body)

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(call.request.scope, replay).form(max_files=1, max_fields=4)
    except (AssertionError, ValueError, HTTPException) as exc:  # not a multipart form
        raise BadRequest(f"Wrong input: a snapshot upload is a multipart form: {exc}") from None
    try:
        upload = form.get("snapshot")
        if not isinstance(upload, UploadFile):
            raise BadRequest(
                "Wrong input: a snapshot upload is a multipart form with a file field named "
                "'snapshot'"
            )
        data = await upload.read()
    finally:
        await form.close()
    recover = call.db.recover_upload
    done = await call.run(recover, call.name, data, params.get("checksum"), params.get("priority"))
    return done if wait else None


async def recover_snapshot(call: Call) -> bool | None:
    """PUT /collections/{name}/snapshots/recover: replace the collection with a snapshot
    under the server's snapshots folder."""
    wait = _snapshot_wait(call)
    body = await call.body(m.SnapshotRecover)
    done = await call.run(call.db.recover, call.name, body)
    return done if wait else None


# ----------------------------------------------------------------------- points


def _points_body(data: Any) -> m.PointsList | m.PointsBatch:
    if isinstance(data, dict) and "batch" in data:
        return wire.validate(m.PointsBatch, data)
    return wire.validate(m.PointsList, data)


async def upsert(call: Call) -> m.UpdateResult:
    """PUT /collections/{name}/points: insert or replace points (list or batch form)."""
    wait = call.wait()
    body = await call.parsed(_points_body)
    return await _write(call, wait, m.UpsertOperation(upsert=body))


async def _write(
    call: Call, wait: bool, op: m.UpdateOperation, deadline: Deadline | None = None
) -> m.UpdateResult:
    """One write. With ``wait=false`` and a full write queue it is refused with 429
    (``Overloaded``) instead of holding a worker thread until there is room."""
    outcomes = await call.on_collection(Collection.write_many, [op], wait, False, [deadline])
    outcome = outcomes[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _selector(data: Any) -> m.PointIdsList | m.FilterSelector:
    # Qdrant's PointsSelector is untagged: the key present decides which form it is.
    if isinstance(data, dict) and "filter" in data:
        selector: m.PointIdsList | m.FilterSelector = wire.validate(m.FilterSelector, data)
    else:
        selector = wire.validate(m.PointIdsList, data)
    check_shard_key(selector)
    return selector


async def delete_points(call: Call) -> m.UpdateResult:
    """POST /collections/{name}/points/delete: by ids or by filter (within a deadline)."""
    wait = call.wait()
    selector = await call.parsed(_selector)
    return await _write(call, wait, m.DeleteOperation(delete=selector), call.timed("delete"))


async def batch_update(call: Call) -> list[m.UpdateResult]:
    """POST /collections/{name}/points/batch: several updates, applied in order as one.

    Unlike Qdrant, which applies the operations one by one and stops at a failing one,
    Shoal applies all of them or, if any is rejected, none: the error names the bad value
    and nothing has changed, so a client can retry the others safely.
    """
    wait = call.wait()
    body = await call.body(m.UpdateOperations)
    if call.request.headers.get(wire.WRITE_MODE_HEADER) == "independent":
        outcomes = await call.on_collection(
            Collection.write_many, body.operations, wait, block=False
        )
        return wire.update_outcomes(outcomes)
    return await call.on_collection(Collection.batch_update, body.operations, wait)


async def retrieve(call: Call) -> list[m.Record]:
    """POST /collections/{name}/points: points by id, missing ones skipped."""
    body = await call.body(m.PointRequest)
    return await call.on_collection(
        Collection.retrieve, body.ids, body.with_payload, body.with_vector
    )


async def get_point(call: Call) -> m.Record:
    """GET /collections/{name}/points/{id}: one point with payload and vector (404 if missing)."""
    raw: str = call.request.path_params["id"]
    # The path carries no JSON type: digits are an integer id, anything else a UUID.
    pid = path_id(raw)
    records = await call.on_collection(Collection.retrieve, [pid], True, True)
    if not records:
        raise PointNotFound(pid)
    return records[0]


async def scroll(call: Call) -> m.ScrollResult:
    """POST /collections/{name}/points/scroll: a page of points."""
    body = await call.body(m.ScrollRequest)
    return await call.on_collection(Collection.scroll, body, call.timed("scroll"))


async def count(call: Call) -> m.CountResult:
    """POST /collections/{name}/points/count."""
    body = await call.body(m.CountRequest)
    return await call.on_collection(Collection.count, body, call.timed("count"))


async def query(call: Call) -> m.QueryResponse:
    """POST /collections/{name}/points/query: nearest points."""
    body = await call.body(m.QueryRequest)
    return await call.on_collection(Collection.query, body, call.timed("Search"))


async def query_groups(call: Call) -> m.GroupsResult:
    """POST /collections/{name}/points/query/groups: the best points, grouped."""
    body = await call.body(m.QueryGroupsRequest)
    return await call.on_collection(Collection.query_groups, body, call.timed("Search"))


async def query_batch(call: Call) -> list[m.QueryResponse]:
    """POST /collections/{name}/points/query/batch."""
    body = await call.body(m.QueryRequestBatch)
    return await call.on_collection(Collection.query_batch, body.searches, call.timed("Search"))


async def facet(call: Call) -> m.FacetResponse:
    """POST /collections/{name}/facet: points per value of a payload key."""
    body = await call.body(m.FacetRequest)
    return await call.on_collection(Collection.facet, body, call.timed("facet"))


async def matrix_pairs(call: Call) -> m.SearchMatrixPairsResponse:
    """POST /collections/{name}/points/search/matrix/pairs: the distance matrix as pairs."""
    body = await call.body(m.SearchMatrixRequest)
    return await call.on_collection(Collection.search_matrix_pairs, body, call.timed("Search"))


async def matrix_offsets(call: Call) -> m.SearchMatrixOffsetsResponse:
    """POST /collections/{name}/points/search/matrix/offsets: as offsets into its ids."""
    body = await call.body(m.SearchMatrixRequest)
    return await call.on_collection(Collection.search_matrix_offsets, body, call.timed("Search"))


# ---------------------------------------------------------------------- payload


async def update_vectors(call: Call) -> m.UpdateResult:
    """PUT /collections/{name}/points/vectors: replace some vectors of existing points."""
    wait = call.wait()
    body = await call.body(m.UpdateVectors)
    return await _write(call, wait, m.UpdateVectorsOperation(update_vectors=body))


async def delete_vectors(call: Call) -> m.UpdateResult:
    """POST /collections/{name}/points/vectors/delete: remove named vectors."""
    wait = call.wait()
    body = await call.body(m.DeleteVectors)
    return await _write(call, wait, m.DeleteVectorsOperation(delete_vectors=body))


async def set_payload(call: Call) -> m.UpdateResult:
    """POST /collections/{name}/points/payload: merge payload keys."""
    wait = call.wait()
    body = await call.body(m.SetPayload)
    return await _write(call, wait, m.SetPayloadOperation(set_payload=body))


async def overwrite_payload(call: Call) -> m.UpdateResult:
    """PUT /collections/{name}/points/payload: replace whole payloads."""
    wait = call.wait()
    body = await call.body(m.SetPayload)
    return await _write(call, wait, m.OverwritePayloadOperation(overwrite_payload=body))


async def delete_payload(call: Call) -> m.UpdateResult:
    """POST /collections/{name}/points/payload/delete: remove payload keys."""
    wait = call.wait()
    body = await call.body(m.DeletePayload)
    return await _write(call, wait, m.DeletePayloadOperation(delete_payload=body))


async def clear_payload(call: Call) -> m.UpdateResult:
    """POST /collections/{name}/points/payload/clear: remove all payload keys."""
    wait = call.wait()
    selector = await call.parsed(_selector)
    return await _write(call, wait, m.ClearPayloadOperation(clear_payload=selector))


async def create_index(call: Call) -> m.UpdateResult:
    """PUT /collections/{name}/index: declare a payload index."""
    call.wait()  # validated for Qdrant compatibility; index changes are always synchronous
    body = await call.body(m.CreateFieldIndex)
    return await call.on_collection(
        Collection.create_payload_index, body.field_name, body.field_schema
    )


async def delete_index(call: Call) -> m.UpdateResult:
    """DELETE /collections/{name}/index/{field_name}: drop a payload index."""
    call.wait()
    field: str = call.request.path_params["field_name"]
    return await call.on_collection(Collection.set_payload_index, field, None)


def _vector_name_config(data: Any) -> m.VectorNameConfig:
    if isinstance(data, dict) and "sparse" in data:
        return wire.validate(m.SparseVectorNameConfig, data)
    return wire.validate(m.DenseVectorNameConfig, data)


# A collection change made before the answer, as Qdrant answers one.
_COMPLETED = m.UpdateResult(operation_id=0, status=m.UpdateStatus.COMPLETED)


def _same(data: Any) -> Any:
    return data


# ------------------------------------------------------------------------ table

Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """One REST endpoint: method, Qdrant's path template, and whether it writes."""

    method: str
    path: str
    handler: Handler
    write: bool


_C = "/collections/{collection_name}"
_P = _C + "/points"

# Literal paths come before templated ones at the same depth (``/points/scroll`` before
# ``/points/{id}``), so the router never has to fall back from a partial match.
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/collections", list_collections, write=False),
    Operation("POST", "/collections/aliases", update_aliases, write=True),
    Operation("GET", "/aliases", all_aliases, write=False),
    Operation("GET", _C + "/aliases", collection_aliases, write=False),
    Operation("PUT", _C + "/snapshots/recover", recover_snapshot, write=True),
    Operation("POST", _C + "/snapshots/upload", upload_snapshot, write=True),
    Operation("POST", _C + "/snapshots", create_snapshot, write=True),
    Operation("GET", _C + "/snapshots", list_snapshots, write=False),
    Operation("DELETE", _C + "/snapshots/{snapshot_name}", delete_snapshot, write=True),
    Operation("GET", _C + "/snapshots/{snapshot_name}", download_snapshot, write=False),
    Operation("POST", "/snapshots", create_snapshot, write=True),
    Operation("GET", "/snapshots", list_snapshots, write=False),
    Operation("DELETE", "/snapshots/{snapshot_name}", delete_snapshot, write=True),
    Operation("GET", "/snapshots/{snapshot_name}", download_snapshot, write=False),
    Operation("GET", _C + "/exists", collection_exists, write=False),
    Operation("GET", _C, get_collection, write=False),
    Operation("PUT", _C, create_collection, write=True),
    Operation("PATCH", _C, update_collection, write=True),
    Operation("DELETE", _C, delete_collection, write=True),
    Operation("PUT", _C + "/vectors/{vector_name}", create_vector_name, write=True),
    Operation("DELETE", _C + "/vectors/{vector_name}", delete_vector_name, write=True),
    Operation("PUT", _C + "/index", create_index, write=True),
    Operation("DELETE", _C + "/index/{field_name}", delete_index, write=True),
    Operation("PUT", _P, upsert, write=True),
    Operation("POST", _P, retrieve, write=False),
    Operation("POST", _P + "/delete", delete_points, write=True),
    Operation("POST", _P + "/batch", batch_update, write=True),
    Operation("POST", _P + "/scroll", scroll, write=False),
    Operation("POST", _P + "/count", count, write=False),
    Operation("POST", _P + "/query", query, write=False),
    Operation("POST", _P + "/query/batch", query_batch, write=False),
    Operation("POST", _P + "/query/groups", query_groups, write=False),
    Operation("POST", _P + "/search/matrix/pairs", matrix_pairs, write=False),
    Operation("POST", _P + "/search/matrix/offsets", matrix_offsets, write=False),
    Operation("POST", _C + "/facet", facet, write=False),
    Operation("PUT", _P + "/vectors", update_vectors, write=True),
    Operation("POST", _P + "/vectors/delete", delete_vectors, write=True),
    Operation("POST", _P + "/payload", set_payload, write=True),
    Operation("PUT", _P + "/payload", overwrite_payload, write=True),
    Operation("POST", _P + "/payload/delete", delete_payload, write=True),
    Operation("POST", _P + "/payload/clear", clear_payload, write=True),
    Operation("GET", _P + "/{id}", get_point, write=False),
)
