"""The ``shoal`` command as a new user meets it: help, version, demo, and serve's failures."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

import shoal
import shoal.embeddings
from shoal.cli import build_parser, main


def _run(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "shoal"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"shoal {shoal.__version__}"


def _subcommand(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[name]
    return parser


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_every_option_is_explained_with_its_default(command: str) -> None:
    for action in _subcommand(command)._actions:
        assert action.help, action.option_strings
        default = action.default
        if default in (None, False, argparse.SUPPRESS):
            continue
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert f"default {shown}" in action.help, (action.option_strings, action.help)


def test_serve_help_shows_path_default() -> None:
    done = _run("serve", "--help")
    assert done.returncode == 0
    assert "./shoal_data" in done.stdout


class _FakeEmbedder:
    """Stands in for MiniLM (no model load) and records the demo's temporary folders."""

    dimension = 4
    seen: list[list[str]] = []

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.append(sorted(p.name for p in Path(tempfile.gettempdir()).iterdir()))
        return [[float(len(t)), 1.0, float(i), 0.5] for i, t in enumerate(texts)]

    async def aembed_query(self, text: str) -> list[float]:
        return [float(len(text)), 1.0, 0.0, 0.5]


def test_demo_removes_its_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(shoal.embeddings, "MiniLM", _FakeEmbedder)
    _FakeEmbedder.seen.clear()
    assert main(["demo"]) == 0
    assert "Query: How do I bake bread?" in capsys.readouterr().out
    # The demo did work in a shoal-demo-* folder, and it is gone.
    assert [n for n in _FakeEmbedder.seen[0] if n.startswith("shoal-demo-")]
    assert list(tmp_path.iterdir()) == []


def test_demo_keeps_a_folder_it_was_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shoal.embeddings, "MiniLM", _FakeEmbedder)
    assert main(["demo", "--path", str(tmp_path / "kept")]) == 0
    assert (tmp_path / "kept" / "collections").is_dir()


def test_busy_port_fails_fast_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run("serve", "--path", str(tmp_path / "data"), "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"shoal serve: cannot listen on 127.0.0.1:{port}: the port is in use "
        "(another server? choose one with --port)"
    ]
    assert not (tmp_path / "data").exists()


def test_folder_held_embedded_gets_fitting_advice(tmp_path: Path) -> None:
    from shoal.engine import Database

    holder = Database(tmp_path / "data")
    try:
        done = _run("serve", "--path", str(tmp_path / "data"), "--port", "0")
    finally:
        holder.close()
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "a program using it embedded" in line and "--path" not in line


_WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if the package were not installed
{body}
"""


def test_missing_server_extra_names_a_command_that_works() -> None:
    body = "from shoal.cli import main\nsys.exit(main(['serve', '--path', ':memory:']))"
    done = _run(code=_WITHOUT.format(module="uvicorn", body=body))
    assert done.returncode == 2
    assert "needs the server extra (uvicorn is missing)" in done.stderr
    assert f"{sys.executable} -m pip install" in done.stderr
    assert "shoal[" not in done.stderr


def test_missing_httpx_names_the_server_extra() -> None:
    body = "import shoal\ntry:\n    shoal.Client('http://127.0.0.1:1')\n"
    body += "except ImportError as exc:\n    print(exc)"
    done = _run(code=_WITHOUT.format(module="httpx", body=body))
    assert "needs the server extra (httpx is missing)" in done.stdout, done.stderr
    assert "shoal[" not in done.stdout
