"""docs/compatibility.md lists exactly the operations of Qdrant's REST API and the kinds of
its ``Query``, and the status of each operation agrees with the routes ``shoal serve`` has,
so the page cannot drift from the spec or from the code."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from shoal.server import create_app
from shoal.server.routes import OPERATIONS
from shoal.server.single_node import SINGLE_NODE, refuses

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "compatibility.md"
SPEC = ROOT / "tests" / "data" / "qdrant-openapi.json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
STATUSES = ("supported", "differs", "not supported")
# | `operation_id` | METHOD | `/path` | status | notes |
OPERATION_ROW = re.compile(r"^\| `(\w+)` \| ([A-Z]+) \| `([^`]+)` \| ([^|]+?) \|", re.M)
# | `kind` | status | notes |
KIND_ROW = re.compile(r"^\| `(\w+)` \| ([^|]+?) \|", re.M)


def _section(text: str, title: str) -> str:
    """The body of the level-2 section ``title`` (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/compatibility.md has no section '## {title}'"
    return match.group(1)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def rows(doc: str) -> list[tuple[str, str, str, str]]:
    return OPERATION_ROW.findall(_section(doc, "REST operations"))


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (op["operationId"], method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def test_every_operation_of_the_spec_is_listed_once(
    spec: dict[str, Any], rows: list[tuple[str, str, str, str]], doc: str
) -> None:
    listed = [(op, method, path) for op, method, path, _ in rows]
    twice = [op for op, n in Counter(listed).items() if n > 1]
    assert twice == []
    expected = _spec_operations(spec)
    assert set(listed) - expected == set(), "listed but not in Qdrant's spec"
    assert expected - set(listed) == set(), "in Qdrant's spec but not listed"
    stated = re.search(r"Qdrant's spec lists (\d+) operations", doc)
    assert stated is not None and int(stated.group(1)) == len(expected)


def test_every_status_is_one_of_the_three(rows: list[tuple[str, str, str, str]]) -> None:
    unknown = {op: status for op, _, _, status in rows if status not in STATUSES}
    assert unknown == {}


def test_every_operation_is_routed_and_listed_as_shoal_serve_answers_it(
    rows: list[tuple[str, str, str, str]],
) -> None:
    routed = {
        (method, route.path)
        for route in create_app().routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    # Never the generic unknown-endpoint 404: every operation of the spec has a route.
    assert [op for op, method, path, _ in rows if (method, path) not in routed] == []
    refused = {(op.method, op.path) for op in OPERATIONS + SINGLE_NODE if refuses(op)}
    wrong = {
        op: status
        for op, method, path, status in rows
        if ((method, path) in refused) != (status == "not supported")
    }
    assert wrong == {}, "status contradicts what shoal serve answers"


def test_every_query_kind_of_the_spec_is_listed_once(spec: dict[str, Any], doc: str) -> None:
    schemas = spec["components"]["schemas"]
    variants = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in schemas["Query"]["anyOf"]]
    kinds = {key for v in variants for key in v["required"]}  # nearest, recommend, ...
    modifiers = {key for v in variants for key in v["properties"]}  # and mmr, defaults
    rows = KIND_ROW.findall(_section(doc, "Query kinds").split("Other fields")[0])
    listed = [kind for kind, _ in rows]
    assert [k for k, n in Counter(listed).items() if n > 1] == []
    assert kinds - set(listed) == set(), "a kind of Qdrant's Query is not listed"
    assert set(listed) - modifiers == set(), "listed but not in Qdrant's Query"
    assert {kind: s for kind, s in rows if s not in STATUSES} == {}
