"""Install hints name the extra and a pip command that works where Shoal came from."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest

from shoal import extras

ROOT = Path(__file__).parents[1]


class _Dist:
    """A stand-in for Shoal's installed metadata."""

    def __init__(self, direct_url: dict[str, object] | None) -> None:
        self.direct_url = direct_url
        self.requires = [
            "numpy>=1.26",
            "httpx<1,>=0.27; extra == 'server'",
            'uvicorn[standard]<1,>=0.30; extra == "server"',
            "langchain-core<2,>=1.0; extra == 'langchain'",
        ]

    def read_text(self, name: str) -> str | None:
        return None if self.direct_url is None else json.dumps(self.direct_url)


def _installed_as(monkeypatch: pytest.MonkeyPatch, dist: _Dist | None) -> None:
    def distribution(name: str) -> _Dist:
        assert name == "shoal"
        if dist is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return dist

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


def test_checkout_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    checkout = tmp_path / "shoal-src"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'shoal'\n")
    _installed_as(monkeypatch, _Dist({"url": checkout.as_uri(), "dir_info": {}}))
    assert (
        extras.install_command("server") == f"{sys.executable} -m pip install '{checkout}[server]'"
    )
    editable = {"url": checkout.as_uri(), "dir_info": {"editable": True}}
    _installed_as(monkeypatch, _Dist(editable))
    monkeypatch.chdir(checkout)
    assert extras.install_command("server") == f"{sys.executable} -m pip install -e '.[server]'"


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # from an index
        {"url": "file:///tmp/shoal-0.1.0-py3-none-any.whl", "archive_info": {}},
        {"url": "https://example.org/shoal.git", "vcs_info": {"vcs": "git", "commit_id": "ab"}},
        {"url": "file:///no/such/checkout", "dir_info": {}},  # the checkout is gone
    ],
)
def test_other_installs_get_the_extras_requirements(
    monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, object] | None
) -> None:
    _installed_as(monkeypatch, _Dist(direct_url))
    assert extras.install_command("server") == (
        f"{sys.executable} -m pip install 'httpx<1,>=0.27' 'uvicorn[standard]<1,>=0.30'"
    )
    assert extras.install_command("langchain").endswith("pip install 'langchain-core<2,>=1.0'")


def test_source_tree_run_without_installing(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed_as(monkeypatch, None)
    monkeypatch.chdir(ROOT)
    assert extras.install_command("langchain") == (
        f"{sys.executable} -m pip install -e '.[langchain]'"
    )


def test_hint_sentence() -> None:
    hint = extras.install_hint("server", "uvicorn")
    assert hint.startswith("needs the server extra (uvicorn is missing); install it with: ")
    assert hint.endswith(extras.install_command("server"))


def test_no_hint_names_an_unpublished_distribution() -> None:
    # Shoal is not on PyPI: `pip install shoal[...]` would install someone else's project.
    pattern = re.compile(r"install\s+['\"]?shoal\[|['\"]shoal\[")
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    offenders = [str(f) for f in files if pattern.search(f.read_text(errors="replace"))]
    assert offenders == []
