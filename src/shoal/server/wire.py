"""Qdrant's wire format on the server side: envelopes, error bodies, request parsing.

Successful operations answer ``{"result": …, "status": "ok", "time": …}`` and failures
``{"status": {"error": "…"}, "time": …}``, exactly as Qdrant does, so its clients parse
both. Results are serialised by pydantic straight to JSON bytes with ``by_alias`` (``except``
in ``MatchExcept``) and ``exclude_none`` (Qdrant leaves out absent optional fields, such as
``payload`` when it was not asked for, rather than sending ``null``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from shoal.engine.deadline import MAX_TIMEOUT
from shoal.errors import BadRequest, ShoalError

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
# Shoal's own client reads this header to raise the same exception class as embedded mode;
# Qdrant clients ignore it, so the body stays exactly Qdrant's.
ERROR_TYPE_HEADER = "x-shoal-error"
# Shoal's client sends ``x-shoal-write-mode: independent`` with the concurrent writes it
# coalesces into one ``/points/batch``: shoal serve then applies each operation as a write
# of its own and answers each one's outcome (``update_outcomes``), so one caller's bad or
# unstorable write never fails the others. Qdrant ignores the header.
WRITE_MODE_HEADER = "x-shoal-write-mode"


class PayloadTooLarge(ShoalError):
    """The request body is larger than the server's ``--max-body-mb``."""

    status_code = 413


class UnprocessableBody(BadRequest):
    """The body is valid JSON of the wrong shape (wrong types, unknown or missing fields)."""

    status_code = 422


class NotFoundRoute(ShoalError):
    """No endpoint at this path."""

    status_code = 404


class ServiceUnavailable(ShoalError):
    """The database is not open (the server is starting or stopping)."""

    status_code = 503


class MethodNotAllowed(ShoalError):
    """The path exists but not with this HTTP method."""

    status_code = 405


def dump(value: Any) -> bytes:
    """Serialise a result (a model, a list of models, or plain JSON data) to JSON bytes.

    Args:
        value: what an operation returned.

    Returns:
        The JSON text, with absent optional fields left out.
    """
    if isinstance(value, BaseModel):
        return value.__pydantic_serializer__.to_json(value, by_alias=True, exclude_none=True)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return b"[" + b",".join(dump(v) for v in value) + b"]"
    return orjson.dumps(value)


def ok(result: Any, elapsed: float) -> Response:
    """Qdrant's success envelope around ``result``.

    Args:
        result: the operation's result.
        elapsed: seconds the server spent on the request (Qdrant's ``time``).

    Returns:
        A 200 JSON response.
    """
    # Splicing the pre-serialised result into the envelope avoids a second pass over it.
    body = b'{"result":' + dump(result) + b',"status":"ok","time":' + orjson.dumps(elapsed) + b"}"
    return Response(body, media_type=JSON)


def error(exc: ShoalError, elapsed: float, headers: Mapping[str, str] | None = None) -> Response:
    """Qdrant's error envelope for a Shoal error, with the error's HTTP status.

    Args:
        exc: the error; its ``status_code`` becomes the HTTP status.
        elapsed: seconds the server spent on the request.
        headers: extra response headers (``WWW-Authenticate`` for a 401); a
            ``RateLimited`` error adds ``Retry-After``.

    Returns:
        The error response; it names the exception class in ``x-shoal-error``.
    """
    body = orjson.dumps({"status": {"error": exc.message}, "time": elapsed})
    all_headers = {ERROR_TYPE_HEADER: type(exc).__name__, **(headers or {})}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:  # a rate limit's: qdrant-client retries after it
        all_headers["Retry-After"] = str(retry_after)
    return Response(body, status_code=exc.status_code, media_type=JSON, headers=all_headers)


def update_outcomes(outcomes: list[Any]) -> list[Any]:
    """Per operation of an independent ``/points/batch``: its ``UpdateResult``, or the
    error that rejected it as ``{"error": message, "error_type": class, "status": code}``.
    """
    out: list[Any] = []
    for outcome in outcomes:
        if isinstance(outcome, ShoalError) and (outcome.status_code < 500 or outcome.exposable):
            error = {"error": outcome.message, "error_type": type(outcome).__name__}
            out.append({**error, "status": outcome.status_code})
        elif isinstance(outcome, BaseException):
            raise outcome  # a failure of the server: the wrapper answers 5xx and logs it
        else:
            out.append(outcome.model_dump(mode="json"))
    return out


def internal_error(exc: BaseException, elapsed: float, incident: str) -> Response:
    """The 5xx answer for a failure of the server (a bug, a disk error), not of the request.

    The body names the exception's class and the incident id the server logged it under,
    never its text or traceback: those can name server paths and internals (a ShoalError
    marked ``exposable`` builds its message to name neither, and it is shown).

    Args:
        exc: the failure; a ShoalError keeps its status and is named in ``x-shoal-error``.
        elapsed: seconds the server spent on the request.
        incident: the id the failure was logged under.

    Returns:
        The error response (500 unless ``exc`` is a ShoalError with another 5xx status).
    """
    shown = exc.message if isinstance(exc, ShoalError) and exc.exposable else type(exc).__name__
    message = (
        f"Service internal error: {shown} (incident {incident}; the server's log has the details)"
    )
    body = orjson.dumps({"status": {"error": message}, "time": elapsed})
    if isinstance(exc, ShoalError):
        headers = {ERROR_TYPE_HEADER: type(exc).__name__}
        return Response(body, exc.status_code, headers, media_type=JSON)
    return Response(body, status_code=500, media_type=JSON)


def parse_json(raw: bytes) -> Any:
    """Decode a request body; an empty body counts as ``{}`` (Qdrant's defaults apply).

    Raises:
        BadRequest: the body is not JSON.
    """
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        data = _with_non_finite(raw, exc)
        if data is _INVALID:
            raise BadRequest(f"Json deserialize error: {exc}") from None
        return data


_INVALID = object()


def _with_non_finite(raw: bytes, exc: orjson.JSONDecodeError) -> Any:
    """A body whose only flaw is a NaN or an infinity, decoded; else ``_INVALID``.

    Shoal's client writes non-finite numbers as ``NaN`` / ``Infinity`` / ``-Infinity``
    (models.py, ``_Model``) so that the engine refuses them with the same error as in
    embedded mode, instead of seeing a null. orjson rejects those tokens; a body whose first
    error is one is decoded again by the standard library's parser, which reads them, and
    kept only if everything else in it is what orjson accepts (no lone surrogate, no integer
    beyond 64 bits).
    """
    if not exc.doc[exc.pos : exc.pos + 8].startswith(("NaN", "Infinity")):
        return _INVALID
    try:
        data = json.loads(raw)
        orjson.dumps(data)
    except (ValueError, TypeError, RecursionError):  # JSONEncodeError is a TypeError
        return _INVALID
    return data


def validate(model: type[M], data: Any) -> M:
    """Validate decoded JSON as ``model``.

    Raises:
        UnprocessableBody: wrong types, unknown fields or missing required fields (422).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UnprocessableBody(f"Format error in JSON body: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    """The first pydantic error as ``location: message (got value)``."""
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "body"
    return f"{loc}: {err['msg']} (got {err.get('input')!r:.80})"


def query_bool(params: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean query parameter such as ``?wait=true``.

    Raises:
        BadRequest: the value is neither ``true`` nor ``false``.
    """
    raw = params.get(name)
    if raw is None:
        return default
    value = raw.lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise BadRequest(
        f"Query deserialize error: {name}={raw!r} is not a boolean (expected true or false)"
    )


def query_timeout(params: Mapping[str, str]) -> int | None:
    """Qdrant's ``timeout`` query parameter: whole seconds, 1 to ``MAX_TIMEOUT`` (a u64).

    Returns:
        The seconds, or None when the request has none.

    Raises:
        BadRequest: a value that is not a positive whole number.
    """
    raw = params.get("timeout")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TIMEOUT:
        raise BadRequest(
            f"Query deserialize error: timeout={raw!r} is not a whole number of seconds "
            f"from 1 to {MAX_TIMEOUT}"
        )
    return int(raw)
