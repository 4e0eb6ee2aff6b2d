"""tools/qdrant_suite.py and its pytest plugin, on a small synthetic suite shaped like
qdrant-client's (no server and no qdrant-client tests needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOOLS = Path(__file__).parents[2] / "tools"
sys.path.insert(0, str(TOOLS))

import qdrant_suite  # noqa: E402

SUITE = {
    "test_client.py": """
        import pytest

        class QdrantClient:  # stands in for qdrant_client.QdrantClient
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        def init_clients():
            return QdrantClient(), QdrantClient(prefer_grpc=True)

        @pytest.fixture
        def grpc_client():
            return QdrantClient(prefer_grpc=True)

        @pytest.mark.parametrize("prefer_grpc", [False, True])
        def test_param(prefer_grpc):
            pass

        def test_body_opens_grpc():
            QdrantClient(prefer_grpc=True)

        def test_helper_opens_grpc():
            init_clients()

        def test_fixture_opens_grpc(grpc_client):
            pass

        def test_builds_without_contact():
            QdrantClient(prefer_grpc=True, check_compatibility=False)

        def test_custom_sharding():
            pass

        def test_server_refuses():
            body = b'{"status":{"error":"Wrong input: no such thing"},"time":0.1}'
            raise RuntimeError("Unexpected Response: 400 (Bad Request)\\n" + repr(body))

        def test_skips():
            pytest.skip("not here")
    """,
    "test_fastembed.py": """
        def test_embeds():
            pass
    """,
    "embed_tests/test_local_inference.py": """
        import module_that_does_not_exist
    """,
    "test_broken.py": """
        import module_that_does_not_exist
    """,
}


def _run(tmp_path: Path, rule: str) -> qdrant_suite.FileResult:
    for name, text in SUITE.items():
        path = tmp_path / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(qdrant_suite.PYTEST_INI, encoding="utf-8")
    report = tmp_path / "report.jsonl"
    env = {
        **os.environ,
        qdrant_suite.REPORT_ENV: str(report),
        qdrant_suite.GRPC_RULE_ENV: rule,
        "PYTHONPATH": str(TOOLS),
    }
    cmd = [sys.executable, "-m", "pytest", "tests", "-c", "pytest.ini", "--rootdir", "."]
    # The runner runs one file per pytest; here one run holds a broken file among others.
    cmd += ["-p", "no:cacheprovider", "-p", "qdrant_suite_plugin", "-q"]
    cmd += ["--continue-on-collection-errors"]
    subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, check=False, timeout=120)
    result = qdrant_suite.FileResult("tests")
    assert qdrant_suite._read_report(result, report) is None
    return result


def test_tests_the_server_cannot_serve_are_deselected_with_their_reason(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, "opens")
    deselected = {k.rsplit("::", 1)[-1]: v for k, v in result.deselected.items()}
    assert deselected == {
        "test_param[True]": "grpc",
        "test_body_opens_grpc": "grpc",
        "test_helper_opens_grpc": "grpc",
        "test_fixture_opens_grpc": "grpc",
        "test_custom_sharding": "cluster",
        "test_embeds": "models",
        "tests/embed_tests/test_local_inference.py": "models",  # fails to import: whole file
    }
    outcomes = {k.rsplit("::", 1)[-1]: t["outcome"] for k, t in result.tests.items()}
    assert outcomes == {
        "test_param[False]": "passed",
        "test_builds_without_contact": "passed",
        "test_server_refuses": "failed",
        "test_skips": "skipped",
    }
    assert list(result.collect_errors) == ["tests/test_broken.py"]
    counts = result.counts()
    assert (counts["passed"], counts["failed"], counts["error"]) == (2, 1, 1)
    assert counts["deselected"] == 7


def test_a_failure_names_the_servers_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "opens")
    (message,) = (t["message"] for k, t in result.tests.items() if k.endswith("refuses"))
    assert message.endswith(" -- Wrong input: no such thing")


def test_the_parametrised_rule_runs_tests_that_open_grpc_in_their_body(tmp_path: Path) -> None:
    result = _run(tmp_path, "parametrised")
    assert "grpc" not in {v for k, v in result.deselected.items() if not k.endswith("[True]")}
    assert any(k.endswith("test_body_opens_grpc") for k in result.tests)


def test_a_test_started_but_never_ended_is_reported_as_stuck(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    events = [
        {"event": "selected", "nodeid": "t.py::a"},
        {"event": "selected", "nodeid": "t.py::b"},
        {"event": "start", "nodeid": "t.py::a"},
        {
            "event": "test",
            "nodeid": "t.py::a",
            "outcome": "passed",
            "message": "",
            "timeout": False,
            "duration": 0.1,
        },
        {"event": "start", "nodeid": "t.py::b"},
    ]
    report.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = qdrant_suite.FileResult("t.py")
    assert qdrant_suite._read_report(result, report) == "t.py::b"
    assert result.selected == {"t.py::a", "t.py::b"}


@pytest.mark.parametrize("argv", [["/nonexistent-qdrant-client"]])
def test_a_checkout_without_tests_stops_the_runner(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        qdrant_suite.copy_tests(Path(argv[0]), None, tmp_path)
    assert stop.value.code == 2
