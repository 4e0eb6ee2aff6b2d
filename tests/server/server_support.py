"""Helpers of the server tests: `shoal serve` subprocesses, Shoal clients over an injected
httpx client, and the recorder that checks request and response bodies against Qdrant's
OpenAPI spec. (A uniquely named module: test folders have no __init__.py, so a shared name
such as `conftest` would clash when imported.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from threaded_server import free_port

from shoal import AsyncClient, Client
from shoal.client._async.http import AsyncHttpTransport
from shoal.client._sync.http import HttpTransport

# Qdrant's OpenAPI spec, kept in the repository as test data (credited in NOTICE).
SPEC_PATH = Path(__file__).parents[1] / "data" / "qdrant-openapi.json"
READY_DEADLINE = 30.0
IN_PROCESS_URL = "http://testserver"


# ------------------------------------------------------------------ OpenAPI checks


class OpenApi:
    """Qdrant's spec: finds the operation of a request and validates bodies against it."""

    def __init__(self, path: Path) -> None:
        spec = json.loads(path.read_text())
        self.components = spec["components"]
        self.operations: list[tuple[int, str, re.Pattern[str], dict[str, Any]]] = []
        for template, item in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            literal = sum(1 for seg in template.split("/") if seg and "{" not in seg)
            for method, op in item.items():
                self.operations.append((literal, method.upper(), pattern, op))
        # The most literal template wins (/points/scroll before /points/{id}).
        self.operations.sort(key=lambda o: -o[0])
        self._validators: dict[tuple[int, str], Any] = {}

    def operation(self, method: str, path: str) -> dict[str, Any]:
        for _, op_method, pattern, op in self.operations:
            if op_method == method and pattern.match(path):
                return op
        raise AssertionError(f"{method} {path} is not an operation of Qdrant's API")

    def _validator(self, schema: dict[str, Any], kind: str) -> Any:
        key = (id(schema), kind)
        if key not in self._validators:
            cls = OAS30ReadValidator if kind == "read" else OAS30WriteValidator
            document = {**schema, "components": self.components}
            self._validators[key] = cls(document, format_checker=oas30_format_checker)
        return self._validators[key]

    def check_request(self, method: str, path: str, body: bytes) -> None:
        op = self.operation(method, path)
        if not body:
            return
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        _assert_valid(self._validator(schema, "write"), json.loads(body), f"{method} {path}")

    def check_response(
        self, method: str, path: str, status: int, content_type: str, body: bytes
    ) -> None:
        op = self.operation(method, path)
        responses = op["responses"]
        spec = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        spec = spec or responses.get("default")
        assert spec is not None, f"{method} {path}: status {status} is not in the spec"
        content = spec.get("content")
        if not content:
            return
        where = f"{method} {path} -> {status}"
        if "application/json" in content:
            assert content_type.startswith("application/json"), where
            schema = content["application/json"]["schema"]
            _assert_valid(self._validator(schema, "read"), json.loads(body), where)
        else:
            assert content_type.startswith("text/plain"), where
            body.decode()


def _assert_valid(validator: Any, instance: Any, where: str) -> None:
    errors = list(validator.iter_errors(instance))
    assert not errors, f"{where}: {errors[0].message} in {json.dumps(instance)[:400]}"


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    request: bytes
    response: bytes


@dataclass
class Recorder:
    """httpx event hooks that keep every exchange, to validate them against the spec."""

    exchanges: list[Exchange] = field(default_factory=list)

    def _add(self, response: httpx.Response) -> None:
        request = response.request
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.path,
                response.status_code,
                response.headers.get("content-type", ""),
                request.content,
                response.content,
            )
        )

    def _on_response(self, response: httpx.Response) -> None:
        response.read()
        self._add(response)

    async def _on_aresponse(self, response: httpx.Response) -> None:
        await response.aread()
        self._add(response)

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self._on_response]}

    @property
    def ahooks(self) -> dict[str, list[Any]]:
        return {"response": [self._on_aresponse]}

    def validate(self, openapi: OpenApi, requests: bool = True) -> int:
        """Check every recorded body; returns how many exchanges there were."""
        for ex in self.exchanges:
            # A request the server refused is a deliberately bad one (an id that is no
            # UUID, a negative limit): only accepted requests must match the request schema.
            if requests and ex.method in ("POST", "PUT") and ex.status < 400:
                openapi.check_request(ex.method, ex.path, ex.request)
            openapi.check_response(ex.method, ex.path, ex.status, ex.content_type, ex.response)
        return len(self.exchanges)


# ------------------------------------------------------------------- processes


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    path: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; kill if it does not stop in time. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored SIGTERM:\n{self.log_text()}") from None
        return self.proc.returncode


def wait_ready(server: ServerProcess, verify: Any = True, deadline: float = READY_DEADLINE) -> None:
    """Poll /readyz until it answers 200, the process dies, or the deadline passes."""
    end = time.monotonic() + deadline
    with httpx.Client(verify=verify, timeout=2.0) as http:
        while time.monotonic() < end:
            if server.proc.poll() is not None:
                raise AssertionError(f"server exited early:\n{server.log_text()}")
            try:
                if http.get(server.url + "/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            # Pause between polls by waiting on the process itself: it also notices a crash.
            with suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=0.05)
    raise AssertionError(f"server not ready after {deadline} s:\n{server.log_text()}")


@contextmanager
def run_server(
    path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    scheme: str = "http",
    verify: Any = True,
) -> Iterator[ServerProcess]:
    """`python -m shoal serve` on a free port; always terminated on exit."""
    port = free_port()
    log = path.with_name(path.name + f"-{port}.log")
    cmd = [sys.executable, "-m", "shoal", "serve", "--path", str(path), "--port", str(port)]
    cmd += ["--log-level", "warning", *args]
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    server = ServerProcess(proc, f"{scheme}://127.0.0.1:{port}", log, path)
    try:
        wait_ready(server, verify=verify)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------ in-process


def http_client(url: str, http: httpx.Client) -> Client:
    """A Shoal Client whose HTTP transport sends through ``http``."""
    client = Client(url)
    client._transport.close()  # type: ignore[union-attr]
    client._transport = HttpTransport(url, http_client=http)
    return client


async def async_http_client(url: str, http: httpx.AsyncClient) -> AsyncClient:
    """A Shoal AsyncClient whose HTTP transport sends through ``http``."""
    client = AsyncClient(url)
    await client._transport.close()  # type: ignore[union-attr]
    client._transport = AsyncHttpTransport(url, http_client=http)
    return client


def drop_all(url: str, headers: dict[str, str] | None = None) -> None:
    """Delete every collection on a server, so a scenario starts from nothing."""
    with httpx.Client(base_url=url, headers=headers) as http:
        for c in http.get("/collections").json()["result"]["collections"]:
            assert http.delete(f"/collections/{c['name']}").status_code == 200
