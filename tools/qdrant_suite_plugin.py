"""pytest plugin loaded by ``tools/qdrant_suite.py`` into qdrant-client's own test suite.

It does two jobs inside the pytest process that runs one test file of qdrant-client:

* deselects the tests a REST-only, single-node Shoal server cannot serve, each with a
  reason tag (``grpc``, ``models``, ``cluster``), through pytest's ``pytest_deselected``
  hook so pytest's own summary counts them as deselected;
* writes every outcome (passed / failed / error / skipped / xfailed / xpassed, whether the
  per-test timeout fired, and the first line of the failure) as JSON lines to the file
  named by the ``QDRANT_SUITE_REPORT`` environment variable, which the runner aggregates.

It is not meant to be used on its own; ``python tools/qdrant_suite.py --help`` says how to
run the suite.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import re
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

import pytest

REPORT_ENV = "QDRANT_SUITE_REPORT"
# "parametrised": deselect only prefer_grpc=True parametrisations, and run the tests whose
# body or fixtures open a gRPC client (they fail); otherwise deselect those too.
GRPC_RULE_ENV = "QDRANT_SUITE_GRPC_RULE"
# The message in Qdrant's error envelope, as qdrant-client's UnexpectedResponse prints it.
SERVER_ERROR = re.compile(r'"error":"((?:[^"\\]|\\.)*)')

# Why a test is deselected: the tag printed by the runner and what it means.
REASONS = {
    "grpc": "talks gRPC (prefer_grpc=True); shoal serve speaks REST only",
    "models": "downloads embedding models (fastembed / cloud inference); no network here",
    "cluster": "needs Qdrant's distributed mode (shard keys, cluster API); Shoal is one node",
}

# Files whose every test embeds text with fastembed models or Qdrant Cloud inference.
MODEL_FILES = frozenset(
    {
        "test_fastembed.py",
        "test_remote_inference.py",
        "embed_tests/test_local_inference.py",
    }
)

# Words in a test's name that mark distributed-mode tests (custom sharding, the cluster API).
CLUSTER_WORDS = ("sharding", "cluster")


def _grpc_call(node: ast.Call) -> bool:
    """A client built with ``prefer_grpc=True`` that may talk to the server.

    ``check_compatibility=False`` without any call after it builds a client object and sends
    nothing (qdrant-client's version check is the only request made at construction), as in
    qdrant-client's ``test_client_init``; such a construction alone does not count.
    """
    kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    grpc = kwargs.get("prefer_grpc")
    if not (isinstance(grpc, ast.Constant) and grpc.value is True):
        return False
    check = kwargs.get("check_compatibility")
    return not (isinstance(check, ast.Constant) and check.value is False)


@functools.cache
def _source_facts(fn: Callable[..., Any]) -> tuple[bool, frozenset[str]]:
    """Whether ``fn``'s source opens a gRPC client, and the names it calls."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False, frozenset()
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    names = frozenset(c.func.id for c in calls if isinstance(c.func, ast.Name))
    return any(_grpc_call(c) for c in calls), names


def _opens_grpc(fn: Callable[..., Any], module: Any) -> bool:
    """``fn``, or a function of its module that it calls by name, opens a gRPC client.

    qdrant-client's congruence tests compare the local, REST and gRPC clients through helpers
    such as ``init_clients`` in the test module; one level of helpers covers them.
    """
    grpc, names = _source_facts(fn)
    if grpc:
        return True
    for name in names:
        helper = getattr(module, name, None)
        local = inspect.isfunction(helper) and helper.__module__ == module.__name__
        if local and _source_facts(helper)[0]:
            return True
    return False


def _fixture_functions(item: pytest.Function) -> Iterable[Callable[..., Any]]:
    # _fixtureinfo is how plugins reach an item's fixture closure (pytest-asyncio does too).
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        for fixturedef in defs:
            yield fixturedef.func


def deselect_reason(item: pytest.Item) -> str | None:
    """The tag of ``REASONS`` for which ``item`` is deselected, or None to run it.

    Args:
        item: a collected test of qdrant-client's suite.

    Returns:
        ``"models"``, ``"cluster"``, ``"grpc"`` or None.
    """
    rel = item.nodeid.split("::", 1)[0].removeprefix("tests/")
    if rel in MODEL_FILES or item.get_closest_marker("fastembed") is not None:
        return "models"
    if not isinstance(item, pytest.Function):
        return None
    name = item.originalname.lower()
    if any(word in name for word in CLUSTER_WORDS):
        return "cluster"
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("prefer_grpc") is True:
        return "grpc"
    if os.environ.get(GRPC_RULE_ENV) == "parametrised":
        return None
    module = item.module
    if _opens_grpc(item.function, module):
        return "grpc"
    fixtures = _fixture_functions(item)
    if any(_opens_grpc(fn, inspect.getmodule(fn) or module) for fn in fixtures):
        return "grpc"
    return None


class Recorder:
    """Writes deselections and outcomes as JSON lines, one event a line, as they happen.

    Line by line (flushed), so a file the runner has to kill for overrunning its time still
    leaves what ran before, and the test that was running when it was killed.
    """

    def __init__(self, path: str) -> None:
        self.out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at unconfigure
        self.current: dict[str, Any] = {}

    def _emit(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, sort_keys=True) + "\n")
        self.out.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Deselect what the server cannot serve, saying why."""
        keep: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            reason = deselect_reason(item)
            if reason is None:
                keep.append(item)
                continue
            dropped.append(item)
            self._emit({"event": "deselected", "nodeid": item.nodeid, "reason": reason})
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
        for item in keep:
            self._emit({"event": "selected", "nodeid": item.nodeid})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that fails to import counts as one error, as pytest counts it.

        A file of model tests is deselected as a whole instead: whether it imports (with
        this qdrant-client) does not matter when none of its tests would be run.
        """
        if not report.failed:
            return
        if report.nodeid.removeprefix("tests/") in MODEL_FILES:
            self._emit({"event": "deselected", "nodeid": report.nodeid, "reason": "models"})
            return
        message = _first_line(report)
        self._emit({"event": "collect_error", "nodeid": report.nodeid, "message": message})

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int, str]) -> None:
        """Note the start, so a killed run still names the test it was in."""
        self._emit({"event": "start", "nodeid": nodeid})
        self.current = {"outcome": "passed", "message": "", "timeout": False, "duration": 0.0}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold the setup / call / teardown reports into one outcome per test."""
        entry = self.current
        entry["duration"] = round(entry["duration"] + report.duration, 3)
        outcome = _phase_outcome(report)
        if outcome is not None and (
            entry["outcome"] in ("passed", "skipped") or outcome == "error"
        ):
            entry["outcome"] = outcome
        if report.failed:
            entry["message"] = entry["message"] or _first_line(report)
            entry["timeout"] = entry["timeout"] or "Timeout" in str(report.longrepr)
        if report.when == "teardown":
            self._emit({"event": "test", "nodeid": report.nodeid, **entry})

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Close the report file."""
        self.out.close()


def _phase_outcome(report: pytest.TestReport) -> str | None:
    """The outcome one phase contributes, None when it changes nothing."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if xfail:
            return "xfailed" if report.skipped else "xpassed"
        return None if report.passed else report.outcome
    if report.skipped:
        return "skipped"
    return "error" if report.failed else None


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The failure's first line, and the server's error text when it answered with one."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = lines[0] if lines else ""
    server = SERVER_ERROR.search(text)
    if server:
        message += " -- " + server.group(1)
    return message[:400]


def pytest_configure(config: pytest.Config) -> None:
    """Register the recorder when the runner asked for a report."""
    path = os.environ.get(REPORT_ENV)
    if path:
        config.pluginmanager.register(Recorder(path), "qdrant_suite_recorder")
